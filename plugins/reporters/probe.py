"""Is a tracker's server there? One short HTTP request before the run, instead of a client's minutes of retries.

A tracker client left to itself retries an unreachable server for minutes (MLflow: 7 retries with
exponential backoff and a 120 s timeout per request). A typo'd URI must cost seconds: the probe
sends one GET with a short timeout (``HARNESS_TRACKER_PROBE_TIMEOUT``, default 5 s). Any HTTP
answer except a gateway error (502/503/504) counts as reachable: credentials and paths are the
client's business, and its own error names them.
"""

from __future__ import annotations

import os
import socket
import urllib.parse

DEFAULT_TIMEOUT_S = 5.0
GATEWAY_ERRORS = (502, 503, 504)  # a proxy answered, the tracker behind it did not


class TrackerUnreachable(RuntimeError):
    """A tracker's server did not answer: names the reporter, the URL (credentials removed), the error and the fix."""

    def __init__(self, reporter: str, url: str, error: str, fix: str = ""):
        self.reporter, self.url, self.error, self.fix = reporter, url, error, fix
        super().__init__(f"cannot reach {url}: {error}" + (f". {fix}" if fix else ""))


def timeout_s() -> float:
    try:
        value = float(os.environ.get("HARNESS_TRACKER_PROBE_TIMEOUT", DEFAULT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if value > 0 else DEFAULT_TIMEOUT_S


def is_http(url: str | None) -> bool:
    return bool(url) and urllib.parse.urlsplit(str(url)).scheme.lower() in ("http", "https")


def redact(url: str) -> str:
    """The URL without a password or query string (Trackio's write token travels in the query)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.username:
        host = f"{parts.username}:***@{host}" if parts.password else f"{parts.username}@{host}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "***" if parts.query else "", ""))


def _describe(exc: BaseException, timeout: float) -> str:
    import urllib.error

    reason = exc.reason if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException) else exc
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s (HARNESS_TRACKER_PROBE_TIMEOUT)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (nothing listens on that port)"
    if isinstance(reason, socket.gaierror):
        return f"host name not resolved ({reason})"
    return f"{type(reason).__name__}: {reason}"


def probe_http(reporter: str, url: str, *, shown: str | None = None, fix: str = "") -> None:
    """GET ``url`` once; raise :class:`TrackerUnreachable` unless an HTTP server answers in time.

    ``shown`` is the address to name in the error (the tracker URI the user wrote, not the health path).
    """
    import http.client  # urllib.request and http.client bring ssl and email: only when a run probes
    import urllib.error
    import urllib.request

    timeout = timeout_s()
    request = urllib.request.Request(url, headers={"User-Agent": "posttrain-harness tracker probe"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(0)
    except urllib.error.HTTPError as exc:
        if exc.code in GATEWAY_ERRORS:
            raise TrackerUnreachable(reporter, redact(shown or url), f"HTTP {exc.code} {exc.reason} from a gateway",
                                     fix) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        raise TrackerUnreachable(reporter, redact(shown or url), _describe(exc, timeout), fix) from None
