"""mentatctl: compile a workspace of Agent and Flow YAML into signed Kubernetes output."""

__version__ = "0.1.0"
