"""The climcat client: catalog search, data access (OPeNDAP, NCSS) and scratch."""

from __future__ import annotations

import datetime as _dt
import logging
import math
import numbers
import os
import re
import zlib
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)
from time import monotonic as _monotonic
from time import sleep as _sleep
from urllib.parse import quote, urlsplit

from ._config import Config, load_config
from ._http import Transport, encode_params
from ._progress import Progress
from .errors import ClimcatError

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import xarray

log = logging.getLogger("climcat")

#: Facets the catalog filters and counts by (ESGF names; CORDEX adds the last four).
FACET_NAMES: Tuple[str, ...] = (
    "project",
    "product",
    "institute",
    "model",
    "experiment",
    "time_frequency",
    "realm",
    "cmor_table",
    "ensemble",
    "variable",
    "cf_standard_name",
    "version",
    "domain",
    "driving_model",
    "rcm_name",
    "rcm_version",
)
KINDS = ("standard", "derived", "scratch")
STATUSES = ("latest", "superseded", "retracted")
AVAILABILITIES = ("online", "offline", "partial")
SORT_FIELDS = ("datasetId", "createdAt", "updatedAt", "size")
MAX_PAGE = 1000

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2}([T ]\d{2}(:\d{2}(:\d{2})?)?)?)?)?Z?$")
# Server URLs under these prefixes are rebased onto the client's URL (a notebook inside a cluster
# reaches climcat at another address than the PUBLIC_URL the records carry).
_OWN_PREFIXES = ("/thredds/", "/api/v1/", "/scratch/v1/", "/esg-search/")

Number = Union[int, float]
BBox = Tuple[Number, Number, Number, Number]
DateLike = Union[str, int, _dt.date, _dt.datetime]


class Record(dict):  # type: ignore[type-arg]
    """A JSON object from the API; members are also attributes (``d.title`` is ``d["title"]``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _record(value: Any) -> Any:
    if isinstance(value, dict):
        return Record({k: _record(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_record(v) for v in value]
    return value


class Dataset(Record):
    """One dataset (one version): ``id``, ``title``, ``facets``, ``timeCoverage``, ``urls`` ...

    ``urls.opendap`` is the dataset's aggregation (all its files joined along time), ``urls.ncss``
    its NetCDF Subset Service.
    """

    #: The finished promotion job, on a dataset returned by :meth:`Client.promote`.
    promotion: Optional[Record] = None

    @property
    def opendap(self) -> str:
        return str(self["urls"]["opendap"])

    @property
    def ncss(self) -> str:
        return str(self["urls"]["ncss"])


class File(Record):
    """One file of a dataset with its access URLs and where it is mounted locally.

    ``urls`` holds ``opendap``, ``httpserver``, ``ncss`` (and ``s3`` for S3-stored files);
    :attr:`local_path` is the file in the notebook's mounts (``/data/...``) or ``None``.
    """

    local_path: Optional[str]

    @property
    def opendap(self) -> str:
        return str(self["urls"]["opendap"])

    @property
    def httpserver(self) -> str:
        return str(self["urls"]["httpserver"])

    @property
    def ncss(self) -> str:
        return str(self["urls"]["ncss"])

    @property
    def exists_locally(self) -> bool:
        """True when :attr:`local_path` is a readable file here (the archive is mounted)."""
        return bool(self.get("local_path")) and os.path.isfile(str(self["local_path"]))


class SearchResult:
    """A lazy dataset search: pages are fetched as you iterate (cursor paging).

    ``len(result)`` and :attr:`total` are the number of matching datasets you may read;
    :attr:`facets` the counts per facet value; :meth:`df` a pandas DataFrame.
    """

    def __init__(self, client: "Client", params: List[Tuple[str, Any]], page_size: int, count_facets: Sequence[str]) -> None:
        self._client = client
        self._params = params
        self._page_size = page_size
        self._count_facets = list(count_facets)
        self._first: Optional[Dict[str, Any]] = None
        self._facets: Optional[Dict[str, List[Record]]] = None
        self._items: Optional[List[Dataset]] = None
        self._cursor: Optional[str] = None
        #: Pages fetched so far (for inspection and tests).
        self.pages_fetched = 0

    @property
    def params(self) -> List[Tuple[str, Any]]:
        """The search's query parameters as sent."""
        return list(self._params)

    def _page(self, cursor: Optional[str], limit: int, facets: bool) -> Dict[str, Any]:
        params = list(self._params) + [("limit", limit)]
        if cursor:
            params.append(("cursor", cursor))
        if facets and self._count_facets:
            params.append(("facets", ",".join(self._count_facets)))
        page = self._client._get("/api/v1/datasets", params)
        self.pages_fetched += 1
        return dict(page)

    def _first_page(self) -> Dict[str, Any]:
        if self._first is None:
            self._first = self._page(None, self._page_size, True)
            self._facets = _record(self._first.get("facets") or {})
        return self._first

    @property
    def total(self) -> int:
        """Matching datasets (the first page is fetched once to know)."""
        return int(self._first_page()["total"])

    def __len__(self) -> int:
        return self.total

    def count(self) -> int:
        """Same as ``len(result)``."""
        return self.total

    @property
    def facets(self) -> Dict[str, List[Record]]:
        """Facet name → ``[{"value", "count"}]``, most frequent first, over the whole result."""
        self._first_page()
        return dict(self._facets or {})

    def facet_counts(self, name: str) -> Dict[str, int]:
        """``{"HadGEM2-ES": 3, ...}`` for one facet."""
        if name not in FACET_NAMES:
            raise ValueError(f"unknown facet {name!r}; facets are {', '.join(FACET_NAMES)}")
        return {str(f["value"]): int(f["count"]) for f in self.facets.get(name, [])}

    def __iter__(self) -> Iterator[Dataset]:
        # Pages already fetched are kept, so iterating again or indexing sends nothing new.
        first = self._first_page()
        if self._items is None:
            self._items = [Dataset(_record(item)) for item in first.get("items") or []]
            self._cursor = first.get("next") if first.get("items") else None
        i = 0
        while True:
            while i < len(self._items):
                yield self._items[i]
                i += 1
            if not self._cursor:
                return
            page = self._page(str(self._cursor), self._page_size, False)
            items = page.get("items") or []
            self._items.extend(Dataset(_record(item)) for item in items)
            self._cursor = page.get("next") if items else None

    def __getitem__(self, index: int) -> Dataset:
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError("index a search result with an integer (or iterate it)")
        if index < 0:
            index += self.total
        if index < 0:
            raise IndexError("search result index out of range")
        for i, item in enumerate(self):
            if i == index:
                return item
        raise IndexError("search result index out of range")

    def first(self) -> Optional[Dataset]:
        """The first match, or ``None``."""
        return next(iter(self), None)

    def ids(self) -> List[str]:
        """Ids of every match."""
        return [d.id for d in self]

    def df(self, limit: Optional[int] = None) -> "pandas.DataFrame":
        """The matches as a pandas DataFrame: one row per dataset, one column per facet.

        Columns: ``id``, ``project``, ``kind``, ``title``, the facets (lists joined with commas),
        ``start``, ``end``, ``calendar``, ``size``, ``files``, ``status``, ``availability``, ``opendap``.
        """
        import pandas as pd

        rows = []
        for i, d in enumerate(self):
            if limit is not None and i >= limit:
                break
            tc = d.get("timeCoverage") or {}
            row: Dict[str, Any] = {
                "id": d.get("id"),
                "project": d.get("project"),
                "kind": d.get("kind"),
                "title": d.get("title"),
            }
            for name, value in (d.get("facets") or {}).items():
                row[name] = ",".join(value) if isinstance(value, list) else value
            row.update(
                start=tc.get("start"),
                end=tc.get("end"),
                calendar=tc.get("calendar"),
                size=d.get("size"),
                files=d.get("fileCount"),
                status=d.get("status"),
                availability=d.get("availability"),
                opendap=(d.get("urls") or {}).get("opendap"),
            )
            rows.append(row)
        columns = ["id", "project", "kind", "title"] + [f for f in FACET_NAMES if any(f in r for r in rows)]
        columns += ["start", "end", "calendar", "size", "files", "status", "availability", "opendap"]
        return pd.DataFrame(rows, columns=columns)

    def __repr__(self) -> str:
        shown = "?" if self._first is None else str(self._first.get("total"))
        return f"<climcat.SearchResult {encode_params(self._params) or 'all datasets'}: {shown} datasets>"


def _check_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    return value


def _check_values(name: str, value: Any) -> List[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{name} must be a string or a list of strings, not {type(value).__name__}")
    out = [v.strip() for v in values]
    if not out or any(not v or "," in v for v in out):
        raise ValueError(f"{name}: values must be non-empty and contain no commas: {value!r}")
    return sorted(out) if isinstance(values, (set, frozenset)) else out


def _check_enum(name: str, value: Any, allowed: Sequence[str]) -> List[str]:
    values = _check_values(name, value)
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValueError(f"{name}: unknown value {', '.join(bad)}; allowed: {', '.join(allowed)}")
    return values


def _date_text(name: str, value: DateLike) -> str:
    """A calendar date the API takes (``YYYY[-MM[-DD[THH[:MM[:SS]]]]]``)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a date string, a year, a date or a datetime, not bool")
    if isinstance(value, int):
        if not 0 <= value <= 9999:
            raise ValueError(f"{name}: year {value} is out of range 0-9999")
        return f"{value:04d}"
    if isinstance(value, _dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, _dt.date):
        return value.strftime("%Y-%m-%d")
    if hasattr(value, "year") and hasattr(value, "month") and hasattr(value, "day"):
        # cftime dates (360_day, noleap ...) and pandas/numpy timestamps.
        v: Any = value
        return f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{getattr(v, 'hour', 0):02d}:{getattr(v, 'minute', 0):02d}:{getattr(v, 'second', 0):02d}"
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a date string, a year, a date or a datetime, not {type(value).__name__}")
    text = value.strip()
    if not _DATE.match(text):
        raise ValueError(f"{name} must be a date YYYY[-MM[-DD[THH[:MM[:SS]]]]], got {value!r}")
    return text


def _check_bbox(value: Any) -> BBox:
    """``(west, south, east, north)`` in degrees; west may exceed east (across the antimeridian)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"bbox must be a sequence of four numbers (west, south, east, north), not {type(value).__name__}")
    if len(value) != 4:
        raise ValueError(f"bbox must have four numbers (west, south, east, north), got {len(value)}")
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
        raise TypeError(f"bbox values must be numbers, got {value!r}")
    w, s, e, n = (float(v) for v in value)
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        raise ValueError(f"bbox values must be finite, got {value!r}")
    if not (-90 <= s <= 90 and -90 <= n <= 90):
        raise ValueError(f"bbox south and north must be within -90..90, got {s}, {n}")
    if s > n:
        raise ValueError(f"bbox south ({s}) must not be north of north ({n})")
    if not (-360 <= w <= 360 and -360 <= e <= 360):
        raise ValueError(f"bbox west and east must be within -360..360, got {w}, {e}")
    return (w, s, e, n)


def _check_time(time: Any) -> Tuple[Optional[str], Optional[str]]:
    if isinstance(time, slice):
        if time.step is not None:
            raise ValueError("time: a slice without a step, please (use time_stride for thinning)")
        start, end = time.start, time.stop
    elif isinstance(time, (tuple, list)):
        if len(time) != 2:
            raise ValueError(f"time must be (start, end), got {len(time)} values")
        start, end = time
    elif isinstance(time, (str, int, _dt.date)) and not isinstance(time, bool):
        # One period: "2006" is the year, "2006-03" the month.
        text = _date_text("time", time)
        return text, text
    else:
        raise TypeError(f"time must be (start, end), a slice or a date string, not {type(time).__name__}")
    a = None if start is None else _date_text("time start", start)
    b = None if end is None else _date_text("time end", end)
    return a, b


def _padded(text: str, edge: str) -> str:
    """A partial date completed to its first (start) or last (end) instant, for comparisons."""
    low = edge == "start"
    full = "0000-01-01T00:00:00" if low else "9999-12-31T23:59:59"
    text = text.replace(" ", "T").rstrip("Z")
    return text + full[len(text):] if len(text) < len(full) else text


def _month_days(year: int, month: int, calendar: str) -> int:
    """Days in a month of a CF calendar."""
    if calendar == "360_day":
        return 30
    if month != 2:
        return (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    if calendar in ("noleap", "365_day"):
        return 28
    if calendar in ("all_leap", "366_day"):
        return 29
    if calendar == "julian" or (calendar in ("standard", "gregorian") and year < 1583):
        return 29 if year % 4 == 0 else 28
    return 29 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 28


def _ncss_time(text: str, edge: str, calendar: str) -> str:
    """A partial date as NCSS wants it (``YYYY-MM-DD[THH:MM:SS]``): its first or last instant."""
    date, _, clock = text.replace(" ", "T").rstrip("Z").partition("T")
    parts = date.split("-")
    year = int(parts[0])
    month = int(parts[1]) if len(parts) > 1 else (1 if edge == "start" else 12)
    day = int(parts[2]) if len(parts) > 2 else (1 if edge == "start" else _month_days(year, month, calendar))
    full_clock = "00:00:00" if edge == "start" else "23:59:59"
    clock = clock + full_clock[len(clock):] if clock else full_clock
    return f"{year:04d}-{month:02d}-{day:02d}T{clock}"


class Client:
    """A connection to climcat.

    With no arguments it reads the environment: ``CLIMCAT_URL`` (default
    ``http://localhost:8080``), then ``CLIMCAT_TOKEN``, else the notebook's
    ``JUPYTERHUB_API_TOKEN``, else the ``~/.netrc`` entry for the host (see
    :func:`climcat._config.load_config`). ``CLIMCAT_ROOTS`` (``data=/data,scratch=/scratch``)
    says where storage roots are mounted, for :attr:`File.local_path`.

    Args:
        url: climcat's base URL.
        token: an API key or OIDC token (sent as ``Bearer``).
        retries: how often 429/503 answers are retried (honouring ``Retry-After``).
        timeout: seconds to wait for the server on each request.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        retries: int = 5,
        timeout: float = 300.0,
        backoff: float = 0.5,
        config: Optional[Config] = None,
    ) -> None:
        self.config = config or load_config(url, token)
        self._http = Transport(self.config, timeout=timeout, retries=retries, backoff=backoff)

    def __repr__(self) -> str:
        return f"<climcat.Client {self.config.url} (auth: {self.config.auth_source})>"

    # -- plumbing ------------------------------------------------------------------------------

    def _get(self, path: str, params: Any = None) -> Any:
        return _record(self._http.get_json(path, params))

    def _get_record(self, path: str, params: Any = None) -> Record:
        value = self._get(path, params)
        if not isinstance(value, Record):
            raise ClimcatError(f"expected a JSON object from {path}, got {type(value).__name__}")
        return value

    def _rebase(self, url: str) -> str:
        """A URL the server gave, moved onto this client's base URL when it names climcat's own routes."""
        parts = urlsplit(url)
        base = urlsplit(self.config.url)
        if (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
            return url
        for prefix in _OWN_PREFIXES:
            at = parts.path.find(prefix)
            if at >= 0:
                rest = parts.path[at:] + (f"?{parts.query}" if parts.query else "")
                return self.config.url + rest
        return url

    @staticmethod
    def _id(value: Any) -> str:
        if isinstance(value, Mapping) and "id" in value:
            return str(value["id"])
        if not isinstance(value, str):
            raise TypeError(f"a dataset id must be a string (or a dataset record), not {type(value).__name__}")
        if not value.strip():
            raise ValueError("a dataset id must not be empty")
        return value.strip()

    def _paged(self, path: str, limit: int = MAX_PAGE) -> Iterator[Any]:
        offset = 0
        while True:
            page = self._get(path, {"limit": limit, "offset": offset})
            items = page.get("items") or []
            yield from items
            offset += len(items)
            if not items or offset >= int(page.get("total", 0)):
                return

    # -- identity -----------------------------------------------------------------------------

    def whoami(self) -> Record:
        """What the server sees: user, roles, groups (``GET /api/v1/auth/whoami``)."""
        return self._get_record("/api/v1/auth/whoami")

    # -- catalog ------------------------------------------------------------------------------

    def search(
        self,
        q: Optional[str] = None,
        *,
        start: Optional[DateLike] = None,
        end: Optional[DateLike] = None,
        bbox: Optional[Sequence[Number]] = None,
        kind: Union[str, Sequence[str], None] = None,
        status: Union[str, Sequence[str], None] = None,
        availability: Union[str, Sequence[str], None] = None,
        facets: Optional[Sequence[str]] = None,
        sort: Optional[str] = None,
        page_size: int = 100,
        **facet_filters: Union[str, Sequence[str]],
    ) -> SearchResult:
        """Searches datasets; nothing is sent until you iterate, count or look at facets.

        Args:
            q: free text; every term must prefix-match (title, description, keywords, ids).
            start, end: datasets whose time coverage overlaps this range (``"2006"``,
                ``"2006-03"``, a ``datetime.date`` ...).
            bbox: ``(west, south, east, north)`` in degrees, overlapping the dataset's extent.
            kind, status, availability: ``standard|derived|scratch``, ``latest|superseded|retracted``,
                ``online|offline|partial`` (one or a list).
            facets: facet names to count in :attr:`SearchResult.facets` (default: all).
            sort: ``datasetId``, ``createdAt``, ``updatedAt`` or ``size``; ``-`` for descending.
            page_size: datasets per request (1-1000).
            **facet_filters: ``model="HadGEM2-ES"``, ``variable=["tas", "pr"]``, ``domain="EUR-44"`` ...

        Raises:
            TypeError, ValueError: an argument of the wrong type or value, before anything is sent.
        """
        params: List[Tuple[str, Any]] = []
        for name, value in facet_filters.items():
            if name not in FACET_NAMES:
                raise ValueError(f"unknown search argument {name!r}; facets are {', '.join(FACET_NAMES)}")
            params.append((name, ",".join(_check_values(name, value))))
        if q is not None:
            text = _check_str("q", q).strip()
            if text:
                params.append(("q", text))
        a = _date_text("start", start) if start is not None else None
        b = _date_text("end", end) if end is not None else None
        if a is not None and b is not None and _padded(a, "start") > _padded(b, "end"):
            raise ValueError(f"end ({b}) must not be before start ({a})")
        if a is not None:
            params.append(("start", a))
        if b is not None:
            params.append(("end", b))
        if bbox is not None:
            params.append(("bbox", ",".join(repr(v) for v in _check_bbox(bbox))))
        for name, chosen, allowed in (
            ("kind", kind, KINDS),
            ("status", status, STATUSES),
            ("availability", availability, AVAILABILITIES),
        ):
            if chosen is not None:
                params.append((name, ",".join(_check_enum(name, chosen, allowed))))
        if sort is not None:
            if _check_str("sort", sort).lstrip("+-") not in SORT_FIELDS:
                raise ValueError(f"sort must be one of {', '.join(SORT_FIELDS)}, optionally prefixed with -")
            params.append(("sort", sort))
        if not isinstance(page_size, int) or isinstance(page_size, bool):
            raise TypeError(f"page_size must be an integer, not {type(page_size).__name__}")
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be 1-{MAX_PAGE}, got {page_size}")
        count = FACET_NAMES if facets is None else tuple(_check_enum("facets", list(facets), FACET_NAMES))
        return SearchResult(self, params, page_size, count)

    def dataset(self, id: Any) -> Dataset:
        """One dataset by id (``NotFound`` when it does not exist or you may not read it)."""
        return Dataset(self._get_record(f"/api/v1/datasets/{quote(self._id(id), safe='')}"))

    def files(self, id: Any) -> List[File]:
        """Every file of a dataset, with ``urls`` and ``local_path`` (the notebook's mount)."""
        out = []
        for item in self._paged(f"/api/v1/datasets/{quote(self._id(id), safe='')}/files"):
            f = File(item)
            root = self.config.roots.get(str(item.get("root")))
            f["local_path"] = f"{root.rstrip('/')}/{item['path']}" if root and item.get("path") else None
            out.append(f)
        return out

    def history(self, id: Any) -> List[Record]:
        """The dataset's audit trail, newest first: who changed what, when."""
        return list(self._paged(f"/api/v1/datasets/{quote(self._id(id), safe='')}/history"))

    def lineage(self, id: Any) -> Record:
        """Ancestors and descendants (``{id, ancestors: [...], descendants: [...]}``) you may read."""
        return self._get_record(f"/api/v1/datasets/{quote(self._id(id), safe='')}/lineage")

    # -- exports ------------------------------------------------------------------------------

    def intake_esm_url(self, *, format: str = "opendap", aggregation: str = "file", **search: Any) -> str:
        """URL of the intake-esm collection for a search (``intake.open_esm_datastore(url)``).

        Takes :meth:`search`'s filters; ``format`` ``opendap`` or ``netcdf``; ``aggregation``
        ``file`` (a row per file) or ``dataset`` (a row per dataset, its OPeNDAP aggregation).
        """
        if format not in ("opendap", "netcdf"):
            raise ValueError("format must be opendap or netcdf")
        if aggregation not in ("file", "dataset"):
            raise ValueError("aggregation must be file or dataset")
        params = self.search(**search).params + [("format", format)]
        if aggregation == "dataset":
            params.append(("aggregation", "dataset"))
        return self._http.url("/api/v1/exports/intake-esm", params)

    def to_intake_esm(
        self,
        path: Union[str, "os.PathLike[str]", None] = None,
        *,
        format: str = "opendap",
        aggregation: str = "file",
        **search: Any,
    ) -> Union[Record, Path]:
        """The intake-esm ESM collection of a search: the JSON as a dict, or written to ``path``.

        ``intake.open_esm_datastore(str(path))`` (or ``obj=`` the dict's parts) opens it with intake-esm.
        """
        url = self.intake_esm_url(format=format, aggregation=aggregation, **search)
        data = self._http.request("GET", url).read()
        if path is None:
            import json

            parsed: Record = _record(json.loads(data))
            return parsed
        target = Path(path)
        target.write_bytes(data)
        return target

    def esgf(self, **search: Any) -> str:
        """The ESGF-compatible search URL.

        With no arguments: the endpoint for esgf-pyclient
        (``SearchConnection(client.esgf(), distrib=False)``); with facets: a Dataset search URL
        answering ESGF's Solr JSON.
        """
        endpoint = self.config.url + "/esg-search"
        if not search:
            return endpoint
        other = sorted(set(search) - set(FACET_NAMES) - {"q", "start", "end", "bbox"})
        if other:
            raise ValueError(f"esgf() takes facets, q, start, end and bbox; not {', '.join(other)}")
        # ESGF's own name for free text is `query`.
        params = [("query" if k == "q" else k, v) for k, v in self.search(**search).params]
        return self._http.url(
            endpoint + "/search", [("type", "Dataset")] + params + [("format", "application/solr+json")]
        )

    # -- data ---------------------------------------------------------------------------------

    def _target(self, value: Any, service: str) -> Tuple[str, Mapping[str, Any]]:
        """(URL of ``service`` on a dataset or file, its record) for an id, record or one-result search."""
        if isinstance(value, SearchResult):
            n = value.total
            if n != 1:
                raise ValueError(f"the search matched {n} datasets; pick one (e.g. result[0]) or narrow it")
            value = value[0]
        if isinstance(value, Mapping) and isinstance(value.get("urls"), Mapping) and service in value["urls"]:
            return self._rebase(str(value["urls"][service])), value
        d = self.dataset(value)
        return self._rebase(str(d["urls"][service])), d

    def _fetch_bytes(self, url: str) -> bytes:
        # The server deflates .dods on request: model output compresses well and the link is the bottleneck.
        answer = self._http.request("GET", url, headers={"Accept": "*/*", "Accept-Encoding": "deflate"})
        data = answer.read()
        if answer.headers.get("content-encoding", "").lower() == "deflate":
            data = zlib.decompress(data)
        return data

    def open_dataset(
        self,
        dataset: Any,
        variables: Union[str, Sequence[str], None] = None,
        time: Any = None,
        bbox: Optional[Sequence[Number]] = None,
        *,
        max_request_bytes: Optional[int] = None,
        decode_times: bool = True,
        use_cftime: Optional[bool] = None,
    ) -> "xarray.Dataset":
        """Opens a dataset's aggregated OPeNDAP URL (all its files along time) with xarray.

        Nothing but the metadata and coordinates is read until you use values; each read is one
        or more ``.dods`` requests, split along its dimensions so every request stays under the
        server's size limit (``THREDDS_BIN_LIMIT``; learnt from its first 413 answer, or
        ``max_request_bytes``). Splits are reported as :class:`climcat.SplitWarning` and logged on
        the ``climcat`` logger; the selection made is in ``ds.encoding["climcat"]``.

        Args:
            dataset: a dataset id, a :class:`Dataset` or :class:`File` record, or a search with one result.
            variables: data variables to keep (with their coordinates, bounds and grid mapping).
            time: ``(start, end)`` (inclusive; strings, dates or cftime dates), a slice, or one period
                like ``"2006"``.
            bbox: ``(west, south, east, north)``: the cells within it (1-D lat/lon grids), or the
                smallest index box holding them (rotated-pole / 2-D lat/lon grids).
        """
        url, record = self._target(dataset, "opendap")
        ident = str(record.get("id"))
        from ._dap import DapReader, open_xarray

        wanted = None if variables is None else _check_values("variables", variables)
        window = None if time is None else _check_time(time)
        box = None if bbox is None else _check_bbox(bbox)
        if max_request_bytes is not None and (not isinstance(max_request_bytes, int) or max_request_bytes < 64):
            raise ValueError("max_request_bytes must be an integer of at least 64")
        dds = self._fetch_bytes(f"{url}.dds").decode("utf-8")
        das = self._fetch_bytes(f"{url}.das").decode("utf-8")
        reader = DapReader(url, self._fetch_bytes, max_request_bytes)
        decode: Dict[str, Any] = {"decode_times": decode_times}
        if use_cftime is not None:
            decode["use_cftime"] = use_cftime
        ds = open_xarray(url, dds, das, reader, decode)
        done: Dict[str, Any] = {"dataset": ident, "url": url}
        if wanted is not None:
            ds = _keep_variables(ds, wanted)
            done["variables"] = wanted
        if window is not None:
            ds, done["time"] = _select_time(ds, window)
        if box is not None:
            ds, done["bbox"] = _select_bbox(ds, box)
        ds.encoding["climcat"] = done
        ds.encoding["climcat_reader"] = reader
        log.info("climcat: opened %s: %s", url, {k: v for k, v in done.items() if k != "url"})
        result: "xarray.Dataset" = ds
        return result

    def download(
        self,
        dataset: Any,
        path: Union[str, "os.PathLike[str]", None] = None,
        *,
        variables: Union[str, Sequence[str], None] = None,
        time: Any = None,
        bbox: Optional[Sequence[Number]] = None,
        horiz_stride: Optional[int] = None,
        time_stride: Optional[int] = None,
        progress: bool = True,
        overwrite: bool = False,
    ) -> Path:
        """Downloads a subset through the NetCDF Subset Service as a NetCDF-3 file.

        Same selection as :meth:`open_dataset` (``variables`` default: all grid variables; no
        ``time``: all times). The file is written to ``path`` (default ``<dataset id>.nc``) via a
        ``.part`` file, with a progress bar (tqdm when installed). A subset over the server's limit
        raises :class:`~climcat.errors.TooLarge` whose ``detail`` says how to split it.
        """
        url, record = self._target(dataset, "ncss")
        ident = str(record.get("id"))
        params: List[Tuple[str, Any]] = [
            ("var", ",".join(_check_values("variables", variables)) if variables is not None else "all")
        ]
        if time is not None:
            a, b = _check_time(time)
            calendar = str((record.get("timeCoverage") or {}).get("calendar") or "standard")
            if a is not None:
                params.append(("time_start", _ncss_time(a, "start", calendar)))
            if b is not None:
                params.append(("time_end", _ncss_time(b, "end", calendar)))
        if bbox is not None:
            w, s, e, n = _check_bbox(bbox)
            params += [("north", n), ("south", s), ("east", e), ("west", w)]
        for name, value in (("horizStride", horiz_stride), ("timeStride", time_stride)):
            if value is not None:
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise ValueError(f"{name} must be a positive integer, got {value!r}")
                params.append((name, value))
        params.append(("accept", "netcdf"))
        target = Path(path) if path is not None else Path(f"{ident.replace('/', '_')}.nc")
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
        answer = self._http.request("GET", url, params=params, headers={"Accept": "*/*"})
        part = target.with_name(target.name + ".part")
        try:
            with open(part, "wb") as out, Progress(answer.length, target.name, progress) as bar:
                for chunk in answer.iter_chunks():
                    out.write(chunk)
                    bar.update(len(chunk))
            os.replace(part, target)
        except BaseException:
            answer.close()
            part.unlink(missing_ok=True)
            raise
        log.info("climcat: downloaded %s to %s (%d bytes)", answer.url, target, target.stat().st_size)
        return target

    # -- scratch ------------------------------------------------------------------------------

    def my_quota(self) -> Record:
        """Your scratch usage, limits, state (``ok``, ``soft-exceeded`` ...), grace and purge summary."""
        return self._get_record("/scratch/v1/me")

    def purge_plan(self) -> Record:
        """Your scratch files due for the fair-use purge, earliest first, with when each goes."""
        return self._get_record("/scratch/v1/me/purge-plan")

    def upload(
        self,
        local: Union[str, "os.PathLike[str]"],
        path: Optional[str] = None,
        *,
        progress: bool = True,
    ) -> Record:
        """Uploads a local file to your scratch directory through a grant.

        The grant (``POST /scratch/v1/uploads``) reserves the bytes in your quota first, so an
        upload that does not fit is refused before anything is sent
        (:class:`~climcat.errors.InsufficientStorage`). Then the file is streamed to the grant's
        target (the service, or S3 through the presigned URL).

        Args:
            local: the file to send.
            path: where in your scratch directory (default: the file's name).
        Returns:
            ``{"path", "bytes"}`` as written.
        """
        source = Path(local)
        if not source.is_file():
            raise FileNotFoundError(f"{source} is not a file")
        remote = source.name if path is None else _check_str("path", path).strip().lstrip("/")
        if not remote or ".." in remote.split("/"):
            raise ValueError(f"path must be relative to your scratch directory, without '..': {path!r}")
        size = source.stat().st_size
        grant = self._http.send_json("POST", "/scratch/v1/uploads", {"path": remote, "size": size})
        with open(source, "rb") as handle, Progress(size, remote, progress) as bar:
            body = _counting(handle, bar)
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
            if grant.get("upload"):
                answer = self._http.request("PUT", self._rebase(grant["upload"]["url"]), body=body, headers=headers)
                return Record(_record(answer.json()))
            if grant.get("put") and size <= 16 << 20:
                self._http.request("PUT", grant["put"]["url"], body=body, headers=headers)
            elif grant.get("post"):
                self._post_form(grant["post"], body, size, remote)
            else:
                raise ClimcatError(f"the upload grant for {remote} names no target: {grant}")
        return Record(_record(self._http.send_json("POST", self._rebase(grant["complete"]), {})))

    def _post_form(self, post: Mapping[str, Any], body: Iterable[bytes], size: int, name: str) -> None:
        """S3 browser-style POST: the policy fields, then the file, as multipart/form-data."""
        boundary = "climcat" + os.urandom(12).hex()
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in post["fields"].items()
        )
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{os.path.basename(name)}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        def parts() -> Iterator[bytes]:
            yield head
            yield from body
            yield tail

        self._http.request(
            "POST",
            str(post["url"]),
            body=parts(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + size + len(tail)),
            },
        )

    def promote(
        self,
        paths: Union[str, Sequence[str]],
        title: str,
        *,
        sources: Union[str, Sequence[str], None] = None,
        software: Union[str, Tuple[str, str], Mapping[str, str], None] = None,
        description: Optional[str] = None,
        owner_group: Optional[str] = None,
        public: Optional[bool] = None,
        version: Optional[str] = None,
        script: Optional[str] = None,
        wait: bool = True,
        timeout: float = 3600.0,
        poll: float = 1.0,
    ) -> Record:
        """Promotes scratch files to a shared derived dataset with provenance.

        The files move from your scratch directory to the derived area (and stop counting in
        your quota); the dataset records ``sources`` as what it was derived from, so it shows in
        their :meth:`lineage`. Provenance is required and checked before anything is sent.

        Args:
            paths: files in your scratch directory (relative paths).
            title: the new dataset's title.
            sources: ids of the datasets it was derived from (at least one; you must be able to read them).
            software: what made it: ``"xarray 2023.1"``, ``("cdo", "2.1.1")`` or ``{"name", "version"}``.
            description: how the files were made.
            owner_group: one of your groups (default: your first); public: readable by everyone.
            version: the dataset version (default: today); script: the notebook or script (URL, path, commit).
            wait: poll the promotion job until it is done (else return the job at once).
        Returns:
            The new :class:`Dataset` (its ``promotion`` attribute holds the finished job), or the
            job when ``wait=False``.
        Raises:
            ClimcatError: the promotion failed (its ``detail`` says why; the scratch files are back in place).
        """
        body: Dict[str, Any] = {"paths": _check_values("paths", paths), "title": _check_str("title", title).strip()}
        if not body["title"]:
            raise ValueError("title must not be empty")
        if sources is None:
            raise ValueError("sources are required: the ids of the datasets these files were derived from")
        body["sources"] = _check_values("sources", sources)
        body["software"] = _software(software)
        if description is None or not _check_str("description", description).strip():
            raise ValueError("description is required: say how the files were made")
        body["description"] = description
        for key, value in (("ownerGroup", owner_group), ("version", version), ("script", script)):
            if value is not None:
                body[key] = _check_str(key, value)
        if public is not None:
            if not isinstance(public, bool):
                raise TypeError(f"public must be True or False, not {type(public).__name__}")
            body["public"] = public
        job = _record(self._http.send_json("POST", "/scratch/v1/me/promote", body))
        if not wait:
            return Record(job)
        deadline = _monotonic() + timeout
        while job.get("state") not in ("done", "failed"):
            if _monotonic() > deadline:
                raise ClimcatError(f"promotion {job.get('jobId')} still {job.get('state')} after {timeout:.0f} s: poll {job.get('href')}")
            log.info("climcat: promotion %s: %s, %s of %s files", job.get("jobId"), job.get("state"),
                     (job.get("files") or {}).get("done"), (job.get("files") or {}).get("total"))
            _sleep(poll)
            job = self._get(str(job["href"]))
        if job["state"] == "failed":
            raise ClimcatError(f"promotion failed: {job.get('error') or 'no reason given'}", url=self._http.url(str(job.get("href"))))
        made = self.dataset(str(job["datasetId"]))
        made.promotion = job
        return made

    def create_dataset(self, record: Mapping[str, Any]) -> Dataset:
        """Registers a dataset record (``POST /api/v1/datasets``): curators any, group members
        derived/scratch datasets owned by their group. See the API docs for the members."""
        if not isinstance(record, Mapping):
            raise TypeError(f"record must be a dict, not {type(record).__name__}")
        return Dataset(_record(self._http.send_json("POST", "/api/v1/datasets", dict(record))))


def _software(value: Any) -> Dict[str, str]:
    """``{"name", "version"}`` from ``"xarray 2023.1"``, ``("xarray", "2023.1")`` or a dict."""
    if value is None:
        raise ValueError("software is required: name and version of what made the files, e.g. 'xarray 2023.1'")
    pair: Tuple[Any, Any]
    if isinstance(value, str):
        name, _, version = value.strip().rpartition(" ")
        pair = (name, version) if name else (version, "")
    elif isinstance(value, Mapping):
        pair = (value.get("name"), value.get("version"))
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = (value[0], value[1])
    else:
        raise TypeError("software must be 'name version', (name, version) or {'name': ..., 'version': ...}")
    if not all(isinstance(p, str) and p.strip() for p in pair):
        raise ValueError(f"software needs a name and a version, e.g. 'xarray 2023.1'; got {value!r}")
    return {"name": str(pair[0]).strip(), "version": str(pair[1]).strip()}


def _counting(handle: Any, bar: Progress, size: int = 1 << 20) -> Iterator[bytes]:
    while True:
        chunk = handle.read(size)
        if not chunk:
            return
        bar.update(len(chunk))
        yield chunk


# -- selections for open_dataset --------------------------------------------------------------


def _keep_variables(ds: Any, wanted: List[str]) -> Any:
    missing = [v for v in wanted if v not in ds.data_vars and v not in ds.coords]
    if missing:
        raise ValueError(f"unknown variable {', '.join(missing)}; this dataset has {', '.join(map(str, ds.data_vars))}")
    keep = set(wanted)
    for name in wanted:
        var = ds[name]
        for ref in (var.attrs.get("grid_mapping"), var.encoding.get("grid_mapping")):
            if isinstance(ref, str) and ref in ds.variables:
                keep.add(ref)
    for name in list(keep) + list(ds.coords):
        var = ds.variables[name]
        for ref in (var.attrs.get("bounds"), var.encoding.get("bounds")):
            if isinstance(ref, str) and ref in ds.variables:
                keep.add(ref)
    return ds[sorted(keep & set(ds.data_vars))] if keep & set(ds.data_vars) else ds


def _find_coord(ds: Any, axis: str, standard_names: Tuple[str, ...], units: Tuple[str, ...]) -> Optional[str]:
    for name in ds.variables:
        v = ds.variables[name]
        if v.attrs.get("axis") == axis or v.attrs.get("standard_name") in standard_names:
            return str(name)
    for name in ds.variables:
        if ds.variables[name].attrs.get("units") in units:
            return str(name)
    return None


def _select_time(ds: Any, window: Tuple[Optional[str], Optional[str]]) -> Tuple[Any, Any]:
    name = _find_coord(ds, "T", ("time",), ())
    if name is None or name not in ds.dims:
        raise ValueError("this dataset has no time dimension to select on")
    start, end = window
    before = ds.sizes[name]
    out = ds.sel({name: slice(start, end)})
    if out.sizes[name] == 0:
        times = ds[name].values
        raise ValueError(f"no time steps between {start} and {end}; the dataset covers {times[0]} .. {times[-1]}")
    log.info("climcat: time %s..%s: %d of %d steps", start, end, out.sizes[name], before)
    return out, {"start": start, "end": end, "steps": int(out.sizes[name])}


def _select_bbox(ds: Any, box: BBox) -> Tuple[Any, Any]:
    import numpy as np

    w, s, e, n = box
    lat_name = _find_coord(ds, "\0", ("latitude",), ("degrees_north", "degree_north"))
    lon_name = _find_coord(ds, "\0", ("longitude",), ("degrees_east", "degree_east"))
    if lat_name is None or lon_name is None:
        raise ValueError("this dataset has no latitude/longitude coordinates to select a bbox on")
    lat = ds[lat_name].values
    lon = ds[lon_name].values
    span = 360.0 if (e - w) % 360 == 0 and e != w else (e - w) % 360
    in_lon = ((lon - w) % 360) <= span
    in_lat = (lat >= s) & (lat <= n)
    if lat.ndim == 1 and lon.ndim == 1:
        lat_dim, lon_dim = ds[lat_name].dims[0], ds[lon_name].dims[0]
        rows = np.nonzero(in_lat)[0]
        cols = np.nonzero(in_lon)[0]
        if not len(rows) or not len(cols):
            raise ValueError(
                f"bbox {box} misses the grid (lat {lat.min()}..{lat.max()}, lon {lon.min()}..{lon.max()})"
            )
        # Across the seam of a 0..360 grid the columns come west to east.
        cols = cols[np.argsort((lon[cols] - w) % 360, kind="stable")]
        isel: Dict[Any, Any] = {lat_dim: rows if np.any(np.diff(rows) != 1) else slice(rows[0], rows[-1] + 1)}
        isel[lon_dim] = cols if np.any(np.diff(cols) != 1) else slice(cols[0], cols[-1] + 1)
        out = ds.isel(isel)
        info = {"kind": "cells", lat_dim: int(len(rows)), lon_dim: int(len(cols))}
    else:
        inside = in_lat & in_lon
        if not inside.any():
            raise ValueError(f"bbox {box} misses the grid (lat {lat.min():.2f}..{lat.max():.2f})")
        dims = ds[lat_name].dims
        idx = np.nonzero(inside)
        box_isel = {d: slice(int(i.min()), int(i.max()) + 1) for d, i in zip(dims, idx)}
        out = ds.isel(box_isel)
        info = {"kind": "index box", **{d: [sl.start, sl.stop - 1] for d, sl in box_isel.items()}}
    log.info("climcat: bbox %s: %s", box, info)
    return out, info
