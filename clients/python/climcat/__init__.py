"""climcat: the climate data catalog from a notebook.

>>> import climcat
>>> hits = climcat.search(project="CORDEX", domain="EUR-44", variable="tas")
>>> hits.df()                                   # pandas, one row per dataset
>>> ds = climcat.open_dataset(hits[0], time=("2006-01", "2006-06"), bbox=(0, 40, 20, 55))
>>> climcat.my_quota()

The module-level functions use one :class:`Client` configured from the environment
(``CLIMCAT_URL``, ``CLIMCAT_TOKEN`` or ``JUPYTERHUB_API_TOKEN``, ``~/.netrc``); make your own
``climcat.Client(url, token)`` for anything else. Only the standard library is imported here:
pandas and xarray are imported when :meth:`SearchResult.df` and :func:`open_dataset` need them.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import Any, Optional

from ._config import Config, load_config
from ._dap import SplitWarning
from .client import FACET_NAMES, Client, Dataset, File, Record, SearchResult
from .errors import (
    BadRequest,
    ClimcatConnectionError,
    ClimcatError,
    Conflict,
    Forbidden,
    InsufficientStorage,
    Invalid,
    NotFound,
    PreconditionFailed,
    RateLimited,
    ServerError,
    TooLarge,
    Unauthorized,
    Unavailable,
)

_default: Optional[Client] = None


def client() -> Client:
    """The shared client configured from the environment (created on first use)."""
    global _default
    if _default is None:
        _default = Client()
    return _default


def configure(url: Optional[str] = None, token: Optional[str] = None, **options: Any) -> Client:
    """Replaces the shared client, e.g. ``climcat.configure("https://climcat.example.org", key)``."""
    global _default
    _default = Client(url, token, **options)
    return _default


def search(*args: Any, **kwargs: Any) -> SearchResult:
    """:meth:`Client.search` on the shared client."""
    return client().search(*args, **kwargs)


def dataset(id: Any) -> Dataset:
    """:meth:`Client.dataset` on the shared client."""
    return client().dataset(id)


def files(id: Any) -> Any:
    """:meth:`Client.files` on the shared client."""
    return client().files(id)


def history(id: Any) -> Any:
    """:meth:`Client.history` on the shared client."""
    return client().history(id)


def lineage(id: Any) -> Record:
    """:meth:`Client.lineage` on the shared client."""
    return client().lineage(id)


def open_dataset(*args: Any, **kwargs: Any) -> Any:
    """:meth:`Client.open_dataset` on the shared client."""
    return client().open_dataset(*args, **kwargs)


def download(*args: Any, **kwargs: Any) -> Any:
    """:meth:`Client.download` on the shared client."""
    return client().download(*args, **kwargs)


def to_intake_esm(*args: Any, **kwargs: Any) -> Any:
    """:meth:`Client.to_intake_esm` on the shared client."""
    return client().to_intake_esm(*args, **kwargs)


def intake_esm_url(**kwargs: Any) -> str:
    """:meth:`Client.intake_esm_url` on the shared client."""
    return client().intake_esm_url(**kwargs)


def esgf(**kwargs: Any) -> str:
    """:meth:`Client.esgf` on the shared client."""
    return client().esgf(**kwargs)


def my_quota() -> Record:
    """:meth:`Client.my_quota` on the shared client."""
    return client().my_quota()


def purge_plan() -> Record:
    """:meth:`Client.purge_plan` on the shared client."""
    return client().purge_plan()


def upload(*args: Any, **kwargs: Any) -> Record:
    """:meth:`Client.upload` on the shared client."""
    return client().upload(*args, **kwargs)


def promote(*args: Any, **kwargs: Any) -> Record:
    """:meth:`Client.promote` on the shared client."""
    return client().promote(*args, **kwargs)


def whoami() -> Record:
    """:meth:`Client.whoami` on the shared client."""
    return client().whoami()


__all__ = [
    "__version__",
    "Client",
    "Config",
    "load_config",
    "Dataset",
    "File",
    "Record",
    "SearchResult",
    "SplitWarning",
    "FACET_NAMES",
    "client",
    "configure",
    "search",
    "dataset",
    "files",
    "history",
    "lineage",
    "open_dataset",
    "download",
    "to_intake_esm",
    "intake_esm_url",
    "esgf",
    "my_quota",
    "purge_plan",
    "upload",
    "promote",
    "whoami",
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
]
