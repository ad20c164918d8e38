"""The Docker engine through docker-py: the driver, its builds and its registry calls."""
