"""The CLI against a `rollgate serve` server: credentials, an HTTP client, and the run
commands (deploy, rollback, cancel, resume, approve, status, history, runs show) over the
REST API. Active when ``--server URL`` (or ``ROLLGATE_SERVER``) is given; the token is
``ROLLGATE_TOKEN`` or the one `rollgate login` saved for that server."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx

from rollgate.errors import RollgateError

TERMINAL = {"succeeded", "failed", "rolled_back", "cancelled"}
_EXIT_BY_STATUS = {400: 2, 404: 2, 422: 2, 401: 3, 403: 3, 409: 3, 429: 3}


class RemoteError(RollgateError):
    """The server refused or failed a request; the exit code follows the HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.http_status = status
        self.code = code
        self.exit_code = _EXIT_BY_STATUS.get(status, 1)


def credentials_path() -> Path:
    """Where `rollgate login` keeps tokens: $XDG_CONFIG_HOME/rollgate/credentials.json."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "rollgate" / "credentials.json"


def _load() -> dict[str, Any]:
    try:
        data = json.loads(credentials_path().read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(data: dict[str, Any]) -> Path:
    """Replace the credentials file atomically; only its owner can read it."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2)
    os.replace(tmp, path)
    return path


def save_token(server: str, *, user: str, token: str, token_id: str) -> Path:
    """Remember a token for a server."""
    data = _load()
    data[server.rstrip("/")] = {"user": user, "token": token, "token_id": token_id}
    return _write(data)


def forget_token(server: str) -> dict[str, Any] | None:
    """Drop the saved token of a server; return what was saved."""
    data = _load()
    gone = data.pop(server.rstrip("/"), None)
    if isinstance(gone, dict):
        _write(data)
        return gone
    return None


class RemoteClient:
    """Talks to one server's REST API with a token."""

    def __init__(self, server: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.server = server.rstrip("/")
        saved = _load().get(self.server, {})
        self.token = token or os.environ.get("ROLLGATE_TOKEN") or saved.get("token")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._http = httpx.Client(base_url=self.server, timeout=timeout, headers=headers,
                                  trust_env=False)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request; return the JSON body, or raise RemoteError with the server's reason."""
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RemoteError(0, "unreachable", f"cannot reach {self.server}: {exc}; is "
                              "`rollgate serve` running there?") from None
        if resp.status_code >= 400:
            try:
                err = resp.json()["error"]
                code, message = str(err["code"]), str(err["message"])
            except (ValueError, KeyError, TypeError):
                code, message = "http_error", f"HTTP {resp.status_code}: {resp.text[:200]}"
            if resp.status_code == 401 and not self.token:
                message += f" (log in with `rollgate login --server {self.server}`)"
            raise RemoteError(resp.status_code, code, message)
        return resp.json() if resp.content else None

    def follow(self, run_id: str, on_step: Any = None, poll: float = 0.5,
               timeout: float = 24 * 3600) -> dict[str, Any]:
        """Poll a run until it ends, calling ``on_step(step)`` when a step changes."""
        seen: dict[int, tuple[str, int]] = {}
        deadline = time.monotonic() + timeout
        while True:
            run: dict[str, Any] = self.request("GET", f"/api/runs/{run_id}")
            for step in run.get("steps", []):
                key = (str(step["state"]), int(step.get("attempts") or 0))
                if seen.get(int(step["seq"])) != key:
                    seen[int(step["seq"])] = key
                    if on_step is not None:
                        on_step(step)
            if run["status"] in TERMINAL or time.monotonic() > deadline:
                return run
            time.sleep(poll)


def as_row(data: dict[str, Any]) -> Any:
    """A run or step from the API as an object the terminal renderers can print."""
    from datetime import datetime
    from types import SimpleNamespace

    fields = dict(data)
    for key in ("created_at", "started_at", "finished_at"):
        if isinstance(fields.get(key), str):
            fields[key] = datetime.fromisoformat(fields[key])
    return SimpleNamespace(**fields)
