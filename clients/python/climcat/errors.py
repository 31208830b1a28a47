"""Errors raised by the climcat client.

Every error answer of the server is an RFC 9457 problem (``application/problem+json``)
or, on OPeNDAP routes, a DAP2 ``Error { code = ...; message = "..."; }``. Both become a
:class:`ClimcatError` subclass chosen by the HTTP status, carrying the problem's
``title``, ``detail``, ``errors`` (one ``{"field", "message"}`` per bad input) and the
server's request id (quote it when reporting a problem).
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Mapping, Optional, Type

__all__ = [
    "ClimcatError",
    "ClimcatConnectionError",
    "BadRequest",
    "Invalid",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "Conflict",
    "PreconditionFailed",
    "TooLarge",
    "RateLimited",
    "InsufficientStorage",
    "Unavailable",
    "ServerError",
    "error_for",
]


class ClimcatError(Exception):
    """An error answer from climcat (or no answer at all, see :class:`ClimcatConnectionError`).

    Attributes:
        status: HTTP status (``None`` when the server could not be reached).
        title: the problem's short title, e.g. ``"Not Found"``.
        detail: what went wrong and, usually, what to do about it.
        errors: field problems of a 400, each ``{"field": "query.bbox", "message": "..."}``.
        request_id: the server's ``X-Request-Id`` for this request.
        url: the URL that was requested.
        problem: the whole problem document as sent.
    """

    status: Optional[int] = None

    def __init__(
        self,
        detail: str,
        *,
        status: Optional[int] = None,
        title: Optional[str] = None,
        errors: Optional[List[Dict[str, Any]]] = None,
        request_id: Optional[str] = None,
        url: Optional[str] = None,
        problem: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        if status is not None:
            self.status = status
        self.title = title or ""
        self.detail = detail
        self.errors: List[Dict[str, Any]] = list(errors or [])
        self.request_id = request_id
        self.url = url
        self.problem: Dict[str, Any] = dict(problem or {})
        self.headers: Dict[str, str] = dict(headers or {})
        super().__init__(self._message())

    def _message(self) -> str:
        head = f"{self.status} {self.title}".strip() if self.status else self.title
        text = f"{head}: {self.detail}" if head else self.detail
        for e in self.errors:
            line = f"{e.get('field', '?')}: {e.get('message', '')}"
            if line not in self.detail:
                text += f"\n  - {line}"
        if self.url:
            text += f"\n  (request: {self.url}"
            text += f", request id {self.request_id})" if self.request_id else ")"
        return text


class ClimcatConnectionError(ClimcatError):
    """The server could not be reached: the message names the URL that was tried."""


class BadRequest(ClimcatError):
    """400: the request was refused; :attr:`errors` names each bad field."""

    status = 400


Invalid = BadRequest


class Unauthorized(ClimcatError):
    """401: no or a wrong/expired token. Set ``CLIMCAT_TOKEN`` (or run inside JupyterHub)."""

    status = 401


class Forbidden(ClimcatError):
    """403: authenticated, but not allowed to do this."""

    status = 403


class NotFound(ClimcatError):
    """404: it does not exist, or you may not read it."""

    status = 404


class Conflict(ClimcatError):
    """409: conflicts with the current state."""

    status = 409


class PreconditionFailed(ClimcatError):
    """412: the record changed since you read it."""

    status = 412


class TooLarge(ClimcatError):
    """413: the answer would exceed the server's size limit; :attr:`detail` says how to split it."""

    status = 413

    @property
    def limit_bytes(self) -> Optional[int]:
        """The server's limit in bytes, when the message states it."""
        return parse_limit(self.detail)


class RateLimited(ClimcatError):
    """429: too many requests at once; retried automatically, raised when retries ran out."""

    status = 429


class InsufficientStorage(ClimcatError):
    """507: over your scratch quota; :attr:`detail` states usage and limit."""

    status = 507


class Unavailable(ClimcatError):
    """503: the server (or something it depends on) is unavailable for now."""

    status = 503


class ServerError(ClimcatError):
    """5xx: the server failed; quote :attr:`request_id` when reporting it."""


_BY_STATUS: Dict[int, Type[ClimcatError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    413: TooLarge,
    429: RateLimited,
    503: Unavailable,
    507: InsufficientStorage,
}

_DAP_ERROR = re.compile(r'Error\s*\{\s*code\s*=\s*(-?\d+)\s*;\s*message\s*=\s*"((?:[^"\\]|\\.)*)"\s*;', re.S)
_LIMIT = re.compile(r"over this server's \S+ of [^(]*\((\d+) bytes\)")


def parse_limit(text: str) -> Optional[int]:
    """The byte limit a 413 message states (``... THREDDS_BIN_LIMIT of 4 kB (4000 bytes) ...``)."""
    m = _LIMIT.search(text or "")
    return int(m.group(1)) if m else None


def error_for(
    status: int,
    body: bytes,
    *,
    url: str,
    headers: Optional[Mapping[str, str]] = None,
) -> ClimcatError:
    """The :class:`ClimcatError` for an error answer: problem+json, a DAP2 Error, or plain text."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    request_id = headers.get("x-request-id")
    text = body.decode("utf-8", "replace")
    problem: Dict[str, Any] = {}
    title: Optional[str] = None
    errors: List[Dict[str, Any]] = []
    detail = text.strip()[:2000] or f"HTTP {status}"
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict):
            problem = parsed
            title = str(parsed.get("title") or "") or None
            detail = str(parsed.get("detail") or parsed.get("message") or title or detail)
            raw_errors = parsed.get("errors")
            if isinstance(raw_errors, list):
                errors = [e if isinstance(e, dict) else {"message": str(e)} for e in raw_errors]
            request_id = str(parsed.get("requestId") or request_id or "") or None
    except ValueError:
        m = _DAP_ERROR.search(text)
        if m:
            detail = m.group(2).replace('\\"', '"').replace("\\\\", "\\")
        else:
            # Not climcat's answer (a proxy, another web server): say so.
            snippet = " ".join(text.split())[:300]
            detail = (
                f"HTTP {status} that is not a climcat problem answer (is CLIMCAT_URL right?)"
                + (f": {snippet}" if snippet else "")
            )
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ClimcatError)
    return cls(
        detail,
        status=status,
        title=title,
        errors=errors,
        request_id=request_id,
        url=url,
        problem=problem,
        headers=headers,
    )
