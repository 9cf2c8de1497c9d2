"""rollgate: deployment, rollback and incident runbooks as code that runs."""

__version__ = "0.1.0"
