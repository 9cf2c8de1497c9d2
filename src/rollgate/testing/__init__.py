"""Test helpers shipped with rollgate: a sandbox project driven through the real CLI."""

from rollgate.testing.sandbox import Sandbox, free_port

__all__ = ["Sandbox", "free_port"]
