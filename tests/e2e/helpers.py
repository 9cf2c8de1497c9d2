"""Spec builders shared by the end-to-end tests."""

from __future__ import annotations

from typing import Any

from rollgate.testing import Sandbox, free_port
from rollgate.testing.sandbox import demo_service


def setup(box: Sandbox, strategy: dict[str, Any], **service: Any) -> int:
    """Write a one-service spec with the given production strategy; return the public port."""
    port = free_port()
    box.write_spec({
        "project": "shop",
        "services": {"web": demo_service(port, box.faults_path, **service)},
        "environments": {"production": {"strategy": strategy}},
    })
    return port


def deploy(box: Sandbox, version: str, *extra: str) -> Any:
    """Deploy a version to production through the CLI."""
    return box.run("deploy", "web", "--env", "production", "--version", version, *extra)
