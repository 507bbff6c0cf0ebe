"""tag-gateway: YAML tag configs in, one consent-aware container script out."""

__version__ = "0.1.0"
