"""A typed, synchronous client for the proxy's admin API."""

from __future__ import annotations

import weakref
from typing import Any

import httpx

from rollgate.errors import TargetError
from rollgate.targets.local.launcher import ProxyInfo, find_proxy, start_proxy, stop_proxy
from rollgate.targets.local.proxy_routes import Backend, parse_routes

__all__ = ["Backend", "ProxyClient", "ProxyInfo", "find_proxy", "start_proxy", "stop_proxy"]


class ProxyClient:
    """Talks to one proxy's admin API, e.g. ``ProxyClient("http://127.0.0.1:45678")``."""

    def __init__(self, admin_url: str, *, timeout: float = 5.0) -> None:
        self.admin_url = admin_url.rstrip("/")
        # The admin API is plain HTTP on loopback: skipping TLS setup saves ~30 ms per client.
        self._http = httpx.Client(
            base_url=self.admin_url, timeout=timeout, trust_env=False, verify=False
        )
        # One-shot use (``ProxyClient(url).health()``) must not leak the pooled socket.
        self._finalizer = weakref.finalize(self, self._http.close)

    def __enter__(self) -> ProxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._finalizer()

    def routes(self) -> list[Backend]:
        """Return the proxy's current routing table."""
        body = self._request("GET", "/routes").json()
        try:
            return list(parse_routes(body).backends)
        except ValueError as exc:
            raise TargetError(
                f"the proxy at {self.admin_url} sent a routing table rollgate cannot read ({exc}); "
                "is that port really a rollgate proxy admin API?"
            ) from exc

    def set_routes(self, backends: list[Backend]) -> None:
        """Replace the whole routing table at once."""
        self._request("PUT", "/routes", json={"backends": [b.to_json() for b in backends]})

    def stats(self, window: float = 60, *, histogram: bool = False) -> dict[str, Any]:
        """Return per-version counts, error rate and percentiles over ``window`` seconds.

        With ``histogram`` each window row also has ``errors`` and ``histogram``
        (``[upper_bound_ms | None, count]`` pairs, non-cumulative).
        """
        params: dict[str, float] = {"window": window}
        if histogram:
            params["histogram"] = 1
        body: dict[str, Any] = self._request("GET", "/stats", params=params).json()
        return body

    def maintenance(self) -> dict[str, Any] | None:
        """Return ``{"message", "since"}`` while maintenance mode is on, else ``None``."""
        body = self._request("GET", "/maintenance").json()
        return _maintenance_of(body, self.admin_url)

    def set_maintenance(self, message: str) -> None:
        """Turn maintenance mode on: the public port answers 503 with ``message``.

        Changing the message while on keeps ``since``. ``TargetError`` if the proxy refuses
        the message (empty or longer than 500 characters).
        """
        self._request("PUT", "/maintenance", json={"message": message})

    def clear_maintenance(self) -> None:
        """Turn maintenance mode off: traffic goes to the routed backends again."""
        self._request("DELETE", "/maintenance")

    def health(self) -> dict[str, Any]:
        """Return the proxy's health body (status, pid, listen, admin)."""
        body: dict[str, Any] = self._request("GET", "/health").json()
        return body

    def metrics_text(self) -> str:
        """Return the Prometheus exposition text."""
        return self._request("GET", "/metrics").text

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TargetError(
                f"cannot reach the rollgate proxy admin API at {self.admin_url} ({exc}); "
                "check that the proxy process is running (see its log) or start it again"
            ) from exc
        if response.status_code == 400:
            raise TargetError(f"the proxy refused {method} {path}: {_detail(response)}")
        if response.status_code in (404, 405):
            # Proxies outlive rollgate: one started by an older rollgate lacks newer endpoints.
            raise TargetError(
                f"the proxy at {self.admin_url} does not know {method} {path}; it was started "
                "by an older rollgate: stop it and start it again (it keeps its routes)"
            )
        if response.status_code != 200:
            raise TargetError(
                f"the proxy answered {method} {path} with HTTP {response.status_code}: "
                f"{_detail(response)}; check the proxy log"
            )
        return response


def _maintenance_of(body: object, admin_url: str) -> dict[str, Any] | None:
    """Return the ``maintenance`` value of a ``GET /maintenance`` body, checked."""
    if isinstance(body, dict) and "maintenance" in body:
        value = body["maintenance"]
        if value is None or (isinstance(value, dict) and "message" in value):
            return value
    raise TargetError(
        f"the proxy at {admin_url} sent a maintenance state rollgate cannot read; "
        "is that port really a rollgate proxy admin API (and as new as this rollgate)?"
    )


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return response.text[:200]
