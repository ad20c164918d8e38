"""A Kubernetes cluster through the kubernetes client: the driver and, beside it, its
connection, errors, records, applies, objects by path, cleanup, streams and kubectl lines."""
