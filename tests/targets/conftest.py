"""Fixtures of the local target's tests: demo backends, a real proxy process, clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rollgate.demo.process import DemoProcess, start_demo
from rollgate.targets.local.proxy_client import ProxyClient, ProxyInfo, start_proxy, stop_proxy


@pytest.fixture(scope="module")
def v1() -> Iterator[DemoProcess]:
    demo = start_demo("v1")
    yield demo
    demo.stop()


@pytest.fixture(scope="module")
def v2() -> Iterator[DemoProcess]:
    demo = start_demo("v2")
    yield demo
    demo.stop()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ProxyInfo]:
    info = start_proxy("127.0.0.1:0", tmp_path / "proxy.json", tmp_path / "proxy.log")
    yield info
    stop_proxy(info.pid)


@pytest.fixture
def admin(proxy: ProxyInfo) -> Iterator[ProxyClient]:
    with ProxyClient(proxy.admin_url) as client:
        yield client


@pytest.fixture
def http(proxy: ProxyInfo) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{proxy.listen}", trust_env=False, timeout=10) as client:
        yield client
