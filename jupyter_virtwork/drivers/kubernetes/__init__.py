"""A Kubernetes cluster through the kubernetes client: the driver, the manifests it applies
and what it owns."""
