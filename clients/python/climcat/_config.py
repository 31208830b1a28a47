"""Where the client connects and how it authenticates, from the environment."""

from __future__ import annotations

import base64
import netrc
import os
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional
from urllib.parse import urlsplit

DEFAULT_URL = "http://localhost:8080"

#: Where the catalog's storage roots are mounted in a notebook (``root=/dir`` pairs in ``CLIMCAT_ROOTS``).
DEFAULT_ROOTS: Dict[str, str] = {"data": "/data", "derived": "/data/derived", "scratch": "/scratch"}


@dataclass(frozen=True)
class Config:
    """Resolved client configuration.

    Attributes:
        url: base URL of climcat, without a trailing slash.
        authorization: the ``Authorization`` header value, or ``None`` (anonymous: public data only).
        auth_source: where the credentials came from (``CLIMCAT_TOKEN``, ``JUPYTERHUB_API_TOKEN``,
            ``~/.netrc``, ``argument`` or ``none``), for messages.
        roots: storage root name → local directory where it is mounted.
    """

    url: str
    authorization: Optional[str] = None
    auth_source: str = "none"
    roots: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ROOTS))


def _netrc_authorization(url: str, path: Optional[str] = None) -> Optional[str]:
    host = urlsplit(url).hostname
    if not host:
        return None
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return None
    if not entry:
        return None
    login, _account, password = entry
    if not password:
        return None
    pair = f"{login or 'any'}:{password}".encode("utf-8")
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _roots(value: Optional[str]) -> Dict[str, str]:
    roots = dict(DEFAULT_ROOTS)
    for part in (value or "").split(","):
        if "=" in part:
            name, _, directory = part.partition("=")
            if name.strip() and directory.strip():
                roots[name.strip()] = directory.strip().rstrip("/") or "/"
    return roots


def load_config(
    url: Optional[str] = None,
    token: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    netrc_file: Optional[str] = None,
) -> Config:
    """Configuration from arguments, else the environment.

    URL: ``url``, else ``CLIMCAT_URL``, else ``http://localhost:8080``.
    Credentials, first found wins: ``token``; ``CLIMCAT_TOKEN`` (an API key or OIDC JWT, sent as
    ``Bearer``); ``JUPYTERHUB_API_TOKEN`` (a notebook's hub token, sent as ``token``); the
    ``~/.netrc`` entry for the URL's host (HTTP Basic, the API key as password; ``NETRC`` names
    another file). Without any, requests are anonymous and see public data only.
    """
    env = os.environ if env is None else env
    base = (url or env.get("CLIMCAT_URL") or DEFAULT_URL).strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"climcat URL must be http(s)://host[:port][/prefix], got {base!r}")
    roots = _roots(env.get("CLIMCAT_ROOTS"))
    if token:
        return Config(base, f"Bearer {token}", "argument", roots)
    if env.get("CLIMCAT_TOKEN"):
        return Config(base, f"Bearer {env['CLIMCAT_TOKEN'].strip()}", "CLIMCAT_TOKEN", roots)
    if env.get("JUPYTERHUB_API_TOKEN"):
        # JupyterHub's own scheme; the server resolves it at the hub.
        return Config(base, f"token {env['JUPYTERHUB_API_TOKEN'].strip()}", "JUPYTERHUB_API_TOKEN", roots)
    from_netrc = _netrc_authorization(base, netrc_file or env.get("NETRC"))
    if from_netrc:
        return Config(base, from_netrc, "~/.netrc", roots)
    return Config(base, None, "none", roots)
