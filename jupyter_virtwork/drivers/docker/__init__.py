"""The Docker engine through docker-py: the driver and, beside it, its SDK imports
(``sdk``), connection and clients (``connection``), errors (``failures``), records
(``records``), runs and published ports (``run``), images by reference (``images``),
builds and pushes (``build``), log and exec output (``streams``), watches (``events``),
the cleanup of what a notebook owns (``cleanup``) with its registry calls (``registry``),
and the docker CLI lines that do the same (``commands``)."""
