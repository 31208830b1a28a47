"""HTTP for the client: urllib, problem mapping, retries on 429/503 honouring Retry-After."""

from __future__ import annotations

import email.utils
import json
import logging
import random
import socket
import time
import urllib.error
import urllib.request
from typing import IO, Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlencode, urljoin, urlsplit

from . import __version__
from ._config import Config
from .errors import ClimcatConnectionError, ClimcatError, error_for

log = logging.getLogger("climcat")

Params = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], None]
Body = Union[bytes, IO[bytes], Iterable[bytes], None]

RETRY_STATUSES = (429, 503)


def encode_params(params: Params) -> str:
    """Query string; lists become repeated parameters, ``None`` values are left out."""
    if not params:
        return ""
    items = params.items() if isinstance(params, Mapping) else params
    pairs = []
    for key, value in items:
        if value is None:
            continue
        for v in value if isinstance(value, (list, tuple)) else [value]:
            pairs.append((key, "true" if v is True else "false" if v is False else str(v)))
    return urlencode(pairs)


def retry_after_seconds(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Response:
    """An open, successful answer: read it whole or stream it, then close it."""

    def __init__(self, raw: Any, url: str) -> None:
        self.raw = raw
        self.url = url
        self.status: int = raw.status
        self.headers: Dict[str, str] = {k.lower(): v for k, v in raw.headers.items()}

    @property
    def length(self) -> Optional[int]:
        value = self.headers.get("content-length")
        return int(value) if value and value.isdigit() else None

    def read(self) -> bytes:
        try:
            data: bytes = self.raw.read()
            return data
        finally:
            self.close()

    def json(self) -> Any:
        data = self.read()
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            snippet = " ".join(data[:300].decode("utf-8", "replace").split())
            raise ClimcatError(
                f"the answer from {self.url} is not JSON (is CLIMCAT_URL a climcat server?): {snippet}",
                url=self.url,
            ) from None

    def iter_chunks(self, size: int = 1 << 20) -> Iterable[bytes]:
        try:
            while True:
                chunk = self.raw.read(size)
                if not chunk:
                    return
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self.raw.close()


class Transport:
    """Sends requests to one climcat server with its credentials.

    Retries idempotent requests (and any request the server refused before reading it, i.e.
    429/503) up to ``retries`` times, waiting ``Retry-After`` when given (at most ``max_wait``
    seconds), else an exponential backoff with jitter from ``backoff`` seconds.
    """

    def __init__(
        self,
        config: Config,
        *,
        timeout: float = 300.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self._origin = _origin(config.url)
        # Our own redirect handling: credentials must never follow a redirect to another host
        # (a presigned S3 URL carries its own).
        self._opener = urllib.request.build_opener(_NoRedirect)

    def url(self, path: str, params: Params = None) -> str:
        """Absolute URL of ``path`` (relative to the base URL, or already absolute)."""
        base = path if path.startswith(("http://", "https://")) else self.config.url + path
        query = encode_params(params)
        return f"{base}{'&' if '?' in base else '?'}{query}" if query else base

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json_body: Any = None,
        body: Body = None,
        headers: Optional[Mapping[str, str]] = None,
        stream: bool = False,
        retry: Optional[bool] = None,
    ) -> Response:
        """Sends one request (retrying 429/503), returns the open answer or raises :class:`ClimcatError`."""
        url = self.url(path, params)
        send_headers = {"User-Agent": f"climcat-python/{__version__}", "Accept": "application/json"}
        if self.config.authorization and _origin(url) == self._origin:
            send_headers["Authorization"] = self.config.authorization
        data: Any = body
        if json_body is not None:
            data = json.dumps(json_body).encode("utf-8")
            send_headers["Content-Type"] = "application/json"
        send_headers.update(headers or {})
        # A streamed body can be sent once only; the server refuses 429/503 before reading it.
        can_retry = retry if retry is not None else (method in ("GET", "HEAD") or isinstance(data, (bytes, type(None))))
        attempt = 0
        redirects = 0
        while True:
            req = urllib.request.Request(url, data=data, method=method, headers=send_headers)
            started = time.monotonic()
            try:
                raw = self._opener.open(req, timeout=self.timeout)
                log.debug("%s %s -> %s in %.2fs", method, url, raw.status, time.monotonic() - started)
                return Response(raw, url)
            except urllib.error.HTTPError as e:
                status = e.code
                answer_headers = {k.lower(): v for k, v in (e.headers or {}).items()}
                if status in (301, 302, 303, 307, 308) and "location" in answer_headers and redirects < 5:
                    redirects += 1
                    url = urljoin(url, answer_headers["location"])
                    if _origin(url) != self._origin:
                        send_headers.pop("Authorization", None)
                    e.close()
                    continue
                payload = e.read() if e.fp is not None else b""
                e.close()
                if status in RETRY_STATUSES and can_retry and attempt < self.retries:
                    wait = retry_after_seconds(answer_headers.get("retry-after"))
                    if wait is None:
                        wait = self.backoff * (2**attempt) * (1 + random.random() / 4)
                    wait = min(wait, self.max_wait)
                    attempt += 1
                    log.warning(
                        "climcat: %s %s answered %s; retry %d of %d in %.1fs",
                        method,
                        url,
                        status,
                        attempt,
                        self.retries,
                        wait,
                    )
                    self.sleep(wait)
                    continue
                raise error_for(status, payload, url=url, headers=answer_headers) from None
            except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as e:
                reason = getattr(e, "reason", e)
                raise ClimcatConnectionError(
                    f"could not reach climcat at {url}: {reason}. Is CLIMCAT_URL right "
                    f"(now {self.config.url!r}) and the server running?",
                    url=url,
                ) from e

    def get_json(self, path: str, params: Params = None) -> Any:
        """GET and decode JSON."""
        return self.request("GET", path, params=params).json()

    def send_json(self, method: str, path: str, body: Any, params: Params = None) -> Any:
        """POST/PUT/PATCH a JSON body and decode the JSON answer."""
        return self.request(method, path, params=params, json_body=body).json()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _origin(url: str) -> Tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc.rpartition("@")[2].lower())


__all__ = ["Transport", "Response", "ClimcatError", "encode_params", "retry_after_seconds"]
