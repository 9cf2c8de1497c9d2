"""`rollgate down` stops instances and the proxy; a later deploy starts from scratch."""

from __future__ import annotations

import httpx
import pytest

from rollgate.testing import Sandbox
from tests.e2e.helpers import deploy, setup


def test_down_stops_everything_and_deploy_starts_again(sandbox: Sandbox) -> None:
    port = setup(sandbox, {"kind": "blue-green", "keep_warm": "10m"}, replicas=2)
    assert deploy(sandbox, "v1").returncode == 0
    assert deploy(sandbox, "v2").returncode == 0
    assert len(sandbox.json("status")[0]["instances"]) == 4  # v2 live, v1 warm

    proc = sandbox.run("down", "--env", "production")
    assert proc.returncode == 0, proc.stderr
    assert "stopped 4 instance(s)" in proc.stdout
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    status = sandbox.json("status")[0]
    assert (status["live"], status["instances"], status["proxy"]) == (None, [], False)

    assert deploy(sandbox, "v3").returncode == 0
    assert httpx.get(f"http://127.0.0.1:{port}/version").json()["version"] == "v3"
