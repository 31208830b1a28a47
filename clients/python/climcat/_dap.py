"""A small DAP2 reader for :meth:`climcat.Client.open_dataset`.

Metadata comes from the server's DDS and DAS; values from ``.dods`` hyperslabs that the
client sends itself (with the notebook's credentials, JupyterHub tokens included), each kept
under the server's size limit (``THREDDS_BIN_LIMIT``) by splitting it along its dimensions.
numpy and xarray are imported only when a dataset is opened.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .errors import TooLarge, parse_limit

log = logging.getLogger("climcat")

#: DAP2 type → (numpy dtype as the variable holds it, wire dtype, bytes per value on the wire).
WIRE: Dict[str, Tuple[str, str, int]] = {
    "Byte": ("i1", "u1", 1),
    "Int16": ("i2", ">i4", 4),
    "UInt16": ("u2", ">u4", 4),
    "Int32": ("i4", ">i4", 4),
    "UInt32": ("u4", ">u4", 4),
    "Float32": ("f4", ">f4", 4),
    "Float64": ("f8", ">f8", 8),
}


class SplitWarning(UserWarning):
    """open_dataset split a read into several requests to stay under the server's limit."""


@dataclass
class DdsVar:
    """One variable of a DDS: its DAP2 type, dimension names and sizes, and how to request it."""

    name: str
    type: str
    dims: List[str]
    shape: List[int]
    #: The projection to ask for: ``tas.tas`` for a Grid's array (values only, no maps).
    path: str


@dataclass
class Dds:
    name: str
    variables: Dict[str, DdsVar] = field(default_factory=dict)


_DDS_TOKEN = re.compile(r"[{}\[\];=:]|[^\s{}\[\];=:]+")


def parse_dds(text: str) -> Dds:
    """Variables of a DDS (arrays, scalars and Grids; Structures and Sequences are skipped)."""
    tokens: List[str] = _DDS_TOKEN.findall(text)
    pos = 0

    def peek() -> str:
        return tokens[pos] if pos < len(tokens) else ""

    def take(expected: Optional[str] = None) -> str:
        nonlocal pos
        tok = peek()
        if expected is not None and tok != expected:
            raise ValueError(f"DDS: expected {expected!r} at token {pos}, got {tok!r}")
        pos += 1
        return tok

    def decl() -> Optional[DdsVar]:
        kind = take()
        if kind in ("Structure", "Sequence"):
            take("{")
            while peek() != "}":
                decl()
            take("}")
            take()
            take(";")
            return None
        if kind == "Grid":
            take("{")
            take("ARRAY")
            take(":")
            array = decl()
            take("MAPS")
            take(":")
            while peek() != "}":
                decl()
            take("}")
            name = take()
            take(";")
            if array is None:
                return None
            return DdsVar(name, array.type, array.dims, array.shape, f"{name}.{array.name}")
        name = take()
        dims: List[str] = []
        shape: List[int] = []
        while peek() == "[":
            take("[")
            first = take()
            if peek() == "=":
                take("=")
                dims.append(first)
                shape.append(int(take()))
            else:
                dims.append(f"{name}_dim{len(dims)}")
                shape.append(int(first))
            take("]")
        take(";")
        return DdsVar(name, kind, dims, shape, name)

    take("Dataset")
    take("{")
    out = Dds("")
    while peek() != "}":
        v = decl()
        if v is not None:
            out.variables[v.name] = v
    take("}")
    out.name = take() if peek() not in ("", ";") else ""
    return out


_DAS_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{};,]|[^\s{};,"]+')
_ATTR_TYPES = {"Byte", "Int16", "UInt16", "Int32", "UInt32", "Float32", "Float64", "String", "Url"}


def _unquote(tok: str) -> str:
    if tok.startswith('"') and tok.endswith('"'):
        return re.sub(r"\\(.)", r"\1", tok[1:-1])
    return tok


def parse_das(text: str) -> Dict[str, Dict[str, Any]]:
    """Attribute containers of a DAS: variable (or ``NC_GLOBAL``) → attribute name → value.

    Numbers come as numpy scalars (arrays when there are several) of the attribute's DAP2
    type, so ``_FillValue`` keeps its variable's type; nested containers are flattened with
    dots in their names.
    """
    import numpy as np

    tokens: List[str] = _DAS_TOKEN.findall(text)
    pos = 0

    def take() -> str:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        return tok

    def container(prefix: str, into: Dict[str, Any]) -> None:
        nonlocal pos
        while pos < len(tokens) and tokens[pos] != "}":
            tok = take()
            if tok in _ATTR_TYPES and pos + 1 < len(tokens) and tokens[pos + 1] != "{":
                name = take()
                values: List[str] = []
                while tokens[pos] != ";":
                    t = take()
                    if t != ",":
                        values.append(t)
                take()
                into[prefix + name] = _attr_value(tok, values, np)
            else:
                take()  # "{"
                container(prefix + tok + ".", into)
                take()  # "}"

    top: Dict[str, Dict[str, Any]] = {}
    if take() != "Attributes":
        raise ValueError("DAS: does not start with Attributes")
    take()
    while pos < len(tokens) and tokens[pos] != "}":
        name = take()
        take()
        attrs: Dict[str, Any] = {}
        container("", attrs)
        take()
        top[name] = attrs
    return top


def _attr_value(kind: str, values: List[str], np: Any) -> Any:
    if kind in ("String", "Url"):
        strings = [_unquote(v) for v in values]
        return strings[0] if len(strings) == 1 else strings
    dtype = WIRE[kind][0]
    if kind == "Byte":
        dtype = "i1"
    parsed = np.array([float(v) if kind.startswith("Float") else int(v) for v in values])
    arr = parsed.astype(dtype)
    return arr[0] if arr.size == 1 else arr


def _slices(key: Tuple[Any, ...], shape: Sequence[int]) -> List[Tuple[int, int, int]]:
    """(start, step, count) per dimension of a basic key."""
    out = []
    for k, n in zip(key, shape):
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            count = max(0, math.ceil((stop - start) / step))
            out.append((start, step, count))
        else:
            i = int(k)
            out.append((i + n if i < 0 else i, 1, 1))
    return out


def constraint(path: str, parts: Sequence[Tuple[int, int, int]]) -> str:
    """``tas.tas[0:1:11][3:2:9]`` for ``(start, step, count)`` per dimension."""
    return path + "".join(f"[{s}:{st}:{s + (c - 1) * st}]" for s, st, c in parts)


class DapReader:
    """Reads hyperslabs of one OPeNDAP dataset, split to stay under the server's limit.

    ``fetch(url)`` returns the ``.dods`` bytes (raising :class:`~climcat.errors.TooLarge` on 413).
    The limit starts as ``limit`` (``None``: unknown) and is learnt from the first 413.
    """

    def __init__(self, url: str, fetch: Callable[[str], bytes], limit: Optional[int] = None) -> None:
        self.url = url
        self.fetch = fetch
        self.limit = limit
        self.requests = 0
        self._lock = threading.Lock()

    def budget(self) -> Optional[int]:
        # Room for the DDS text and the array's length words inside the server's estimate.
        if self.limit is None:
            return None
        return max(64, self.limit - min(16384, self.limit // 4))

    def read(self, var: DdsVar, parts: List[Tuple[int, int, int]]) -> Any:  # a numpy array
        import numpy as np

        dtype, wire, width = WIRE[var.type]
        shape = [c for _, _, c in parts]
        if any(c == 0 for c in shape):
            return np.empty(shape, dtype=dtype)
        pieces = self._plan(parts, width)
        if len(pieces) > 1:
            self._tell(var, parts, pieces)
        out = np.empty(shape, dtype=dtype)
        for piece in pieces:
            try:
                values = self._get(var, piece, wire, width)
            except TooLarge as e:
                learnt = e.limit_bytes or parse_limit(e.detail)
                if learnt is None or (self.limit is not None and learnt >= self.limit):
                    raise
                with self._lock:
                    self.limit = learnt
                log.info("climcat: %s: the server's limit is %d bytes per request", self.url, learnt)
                values = self.read(var, piece)
            index = tuple(
                slice((s - s0) // st0, (s - s0) // st0 + c)
                for (s, _, c), (s0, st0, _) in zip(piece, parts)
            )
            out[index] = np.asarray(values).reshape([c for _, _, c in piece])
        return out

    def _plan(self, parts: List[Tuple[int, int, int]], width: int) -> List[List[Tuple[int, int, int]]]:
        budget = self.budget()
        total = width * math.prod(c for _, _, c in parts)
        if budget is None or total <= budget:
            return [list(parts)]
        # Split along the first dimension that has more than one index; one index of it too big →
        # keep it to one index and split the next dimension within it.
        for d, (start, step, count) in enumerate(parts):
            inner = width * math.prod(c for _, _, c in parts[d + 1 :])
            if count > 1 and inner <= budget:
                fit = max(1, budget // inner)
                return [
                    parts[:d] + [(start + k * step, step, min(fit, count - k))] + parts[d + 1 :]
                    for k in range(0, count, fit)
                ]
            if count > 1:
                out: List[List[Tuple[int, int, int]]] = []
                for k in range(count):
                    out.extend(self._plan(parts[:d] + [(start + k * step, step, 1)] + parts[d + 1 :], width))
                return out
        return [list(parts)]

    def _tell(self, var: DdsVar, parts: List[Tuple[int, int, int]], pieces: List[Any]) -> None:
        size = 1
        for _, _, c in parts:
            size *= c
        message = (
            f"climcat: reading {var.name}{[c for _, _, c in parts]} ({size * WIRE[var.type][2]} bytes) "
            f"in {len(pieces)} requests to stay under the server's limit of {self.limit} bytes per request"
        )
        log.info(message)
        warnings.warn(message, SplitWarning, stacklevel=4)

    def _get(self, var: DdsVar, parts: List[Tuple[int, int, int]], wire: str, width: int) -> Any:  # a numpy array
        import numpy as np

        url = f"{self.url}.dods?{constraint(var.path, parts) if parts else var.path}"
        self.requests += 1
        data = self.fetch(url)
        marker = data.find(b"\nData:\n")
        if marker < 0:
            raise ValueError(f"{url}: not a DAP2 data answer")
        payload = memoryview(data)[marker + 7 :]
        count = math.prod(c for _, _, c in parts) if parts else 1
        if not parts:
            return np.frombuffer(payload, dtype=wire, count=1).astype(WIRE[var.type][0])
        # Arrays: the count twice (XDR), then the values; bytes are padded to 4.
        return np.frombuffer(payload[8:], dtype=wire, count=count).astype(WIRE[var.type][0])

    def read_strings(self, var: DdsVar) -> Any:  # a numpy array
        """A String variable, whole (they are small: grid mappings, labels)."""
        import numpy as np

        url = f"{self.url}.dods?{var.path}"
        self.requests += 1
        data = self.fetch(url)
        payload = memoryview(data)[data.find(b"\nData:\n") + 7 :]
        pos = 8 if var.shape else 0
        count = math.prod(var.shape) if var.shape else 1
        values = []
        for _ in range(count):
            n = int.from_bytes(payload[pos : pos + 4], "big")
            values.append(bytes(payload[pos + 4 : pos + 4 + n]).decode("utf-8", "replace"))
            pos += 4 + n + (-n % 4)
        return np.array(values, dtype=object).reshape(var.shape)


def open_xarray(
    url: str,
    dds_text: str,
    das_text: str,
    reader: DapReader,
    decode: Dict[str, Any],
) -> Any:
    """An xarray.Dataset over the DAP2 dataset at ``url``, values read lazily by ``reader``."""
    import numpy as np
    import xarray as xr
    from xarray.backends import BackendArray
    from xarray.core import indexing

    dds = parse_dds(dds_text)
    das = parse_das(das_text)

    class DapArray(BackendArray):  # type: ignore[misc]
        def __init__(self, var: DdsVar) -> None:
            self.var = var
            self.shape = tuple(var.shape)
            self.dtype = np.dtype(WIRE[var.type][0])

        def __getitem__(self, key: Any) -> Any:
            return indexing.explicit_indexing_adapter(
                key, self.shape, indexing.IndexingSupport.BASIC, self._raw
            )

        def _raw(self, key: Tuple[Any, ...]) -> Any:
            parts = _slices(key, self.shape)
            out = reader.read(self.var, parts)
            # Integer keys drop their dimension.
            return out.reshape([c for k, (_, _, c) in zip(key, parts) if isinstance(k, slice)])

    variables = {}
    unlimited = das.get("DODS_EXTRA", {}).get("Unlimited_Dimension")
    for name, var in dds.variables.items():
        attrs = {k: v for k, v in das.get(name, {}).items() if not k.startswith("DODS.")}
        if var.type in ("String", "Url"):
            try:
                data: Any = reader.read_strings(var)
            except Exception:  # noqa: BLE001 - a label that cannot be read must not stop the open
                data = np.array("", dtype=object)
        elif var.type in WIRE:
            if var.shape:
                data = indexing.LazilyIndexedArray(DapArray(var))
            else:
                data = reader.read(var, [])
        else:
            continue
        encoding: Dict[str, Any] = {"source": url}
        if unlimited and unlimited in var.dims:
            encoding["unlimited_dims"] = {unlimited}
        variables[name] = xr.Variable(var.dims, data, attrs, encoding=encoding)
    global_attrs = {k: v for k, v in das.get("NC_GLOBAL", {}).items() if not k.startswith("DODS.")}
    ds = xr.Dataset(variables, attrs=global_attrs)
    ds = xr.decode_cf(ds, **decode)
    ds.encoding["source"] = url
    if unlimited:
        ds.encoding["unlimited_dims"] = {unlimited}
    return ds
