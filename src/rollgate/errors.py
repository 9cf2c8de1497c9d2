"""The one exception hierarchy of rollgate.

    RollgateError                 exit 1   anything rollgate raises on purpose
    ├── SpecError                 exit 2   the spec file is wrong (file:line: field: message)
    ├── UsageError                exit 2   a command was called with bad input
    ├── NotFoundError             exit 2   a run, release or version that does not exist
    ├── RefusedError              exit 3   refused by a lock or a policy; says what to do
    │   └── LockedError           exit 3   another run holds the service+environment
    │   └── BackupCorrupt         exit 3   a backup failed its checksum or its engine's check
    ├── TargetError               exit 1   the target could not start, stop or route a version
    ├── DataError                 exit 1   a backup, restore or migration command failed
    ├── CheckFailed               exit 1   a health check or smoke check did not pass
    ├── Unauthenticated           exit 2   no valid credentials (HTTP 401); says how to sign in
    ├── Forbidden                 exit 3   the principal lacks a role (HTTP 403); says which
    │   └── CsrfError             exit 3   a cookie-authenticated change without its CSRF token
    └── RateLimited               exit 3   too many failed logins (HTTP 429, Retry-After)

Every error a user can cause carries a message that says what to do next.
The CLI maps ``exit_code`` to the process exit code; the API maps ``http_status``.
"""

from __future__ import annotations


class RollgateError(Exception):
    """Root of every error rollgate raises on purpose."""

    exit_code: int = 1
    http_status: int = 500
    code: str = "error"

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def http_headers(self) -> dict[str, str]:
        """Extra HTTP headers of the API's error response (none by default)."""
        return {}


class SpecError(RollgateError):
    """The spec is invalid; the message names file, line and field."""

    exit_code = 2
    http_status = 422
    code = "invalid_spec"

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class UsageError(RollgateError):
    """A command was called with input that cannot work."""

    exit_code = 2
    http_status = 400
    code = "bad_request"


class NotFoundError(RollgateError):
    """A run, release, service or environment that does not exist."""

    exit_code = 2
    http_status = 404
    code = "not_found"


class RefusedError(RollgateError):
    """Refused by a lock or a policy."""

    exit_code = 3
    http_status = 409
    code = "refused"


class LockedError(RefusedError):
    """Another run is active on the same service and environment."""

    code = "locked"

    def __init__(self, message: str, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id


class TargetError(RollgateError):
    """The target could not start, stop or route a version."""

    code = "target_error"


class CheckFailed(RollgateError):
    """A health or smoke check did not pass."""

    code = "check_failed"


class BackupCorrupt(RefusedError):
    """A backup whose checksum or engine check fails: it is refused and nothing is touched."""

    code = "backup_corrupt"


class DataError(RollgateError):
    """A backup, restore or migration did not succeed (the message says which and why)."""

    code = "data_error"


class Unauthenticated(RollgateError):
    """No credentials, or credentials that are wrong, expired or revoked."""

    exit_code = 2
    http_status = 401
    code = "unauthenticated"

    def http_headers(self) -> dict[str, str]:
        """Tell HTTP clients which scheme to use."""
        return {"WWW-Authenticate": 'Bearer realm="rollgate"'}


class Forbidden(RollgateError):
    """The caller is known but lacks the role the action needs (the message says which)."""

    exit_code = 3
    http_status = 403
    code = "forbidden"


class CsrfError(Forbidden):
    """A cookie-authenticated state-changing request came without its CSRF token."""

    code = "csrf_failed"


class RateLimited(RollgateError):
    """Too many failed logins: wait ``retry_after`` seconds."""

    exit_code = 3
    http_status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def http_headers(self) -> dict[str, str]:
        """Retry-After, in seconds."""
        return {"Retry-After": str(self.retry_after)}
