"""Progress bars: tqdm when installed, else a plain line on stderr."""

from __future__ import annotations

import sys
import time
from typing import Any, Optional


class Progress:
    """Counts bytes; ``with Progress(total, "tas.nc") as p: p.update(n)``."""

    def __init__(self, total: Optional[int], label: str, enabled: bool = True) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self.enabled = enabled
        self._bar: Any = None
        self._last = 0.0
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label)

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last >= 0.5:
            self._last = now
            self._print()

    def _print(self, end: str = "\r") -> None:
        if self.total:
            pct = 100 * self.done / self.total
            bar = "#" * int(pct / 5)
            sys.stderr.write(f"{self.label}: [{bar:<20}] {pct:5.1f}% of {self.total} bytes{end}")
        else:
            sys.stderr.write(f"{self.label}: {self.done} bytes{end}")
        sys.stderr.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            self._print("\n")
