"""Test helpers shipped with rollgate: a sandbox project driven through the real CLI."""

from rollgate.targets.local.processes import free_port
from rollgate.testing.sandbox import Sandbox

__all__ = ["Sandbox", "free_port"]
