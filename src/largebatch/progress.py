"""Progress of a run or a sweep: a tqdm bar on a terminal, plain periodic lines anywhere else.

A bar's carriage returns and escape codes only make sense on a terminal; in a log file (a submitit `.err`,
`make reproduce > log`, CI) they become one unreadable line. So when stderr is not a TTY, `progress()`
returns `Lines`, which prints one plain line every `every_s` seconds (LARGEBATCH_PROGRESS_S, default 30)
and at the end: `[study] step 120/2340 (5 %), 12.3 step/s, 3m01s left, loss 0.512, acc 0.8123`.
Fields given to `set_postfix` as None are left out (no `loss=nan` before the first loss is logged).
"""

from __future__ import annotations

import os
import sys
import time


def _duration(s: float) -> str:
    s = int(max(s, 0))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Lines:
    """tqdm's small interface (update, set_postfix, write, close) as plain periodic lines on stderr."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", unit: str = "it", every_s: float = 30.0):
        self.total, self.n, self.desc, self.unit, self.every_s = total, initial, desc, unit, every_s
        self.start_n, self.t0 = initial, time.monotonic()
        self.last, self.shown = self.t0, initial  # when, and at which count, the last line was printed
        self.postfix: dict[str, str] = {}

    def line(self) -> str:
        elapsed = time.monotonic() - self.t0
        rate = (self.n - self.start_n) / elapsed if elapsed > 0 else 0.0
        pct = f" ({100 * self.n / self.total:.0f} %)" if self.total else ""
        parts = [f"[{self.desc}] {self.unit} {self.n}/{self.total}{pct}"]
        if rate > 0:
            parts.append(f"{rate:.3g} {self.unit}/s")
            parts.append(f"{_duration((self.total - self.n) / rate)} left")
        parts += [f"{k} {v}" for k, v in self.postfix.items()]
        return ", ".join(parts)

    def _emit(self) -> None:
        try:
            print(self.line(), file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass
        self.last, self.shown = time.monotonic(), self.n

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self.last >= self.every_s:
            self._emit()

    def set_postfix(self, refresh: bool = True, **kw) -> None:
        self.postfix = {k: str(v) for k, v in kw.items() if v is not None}

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = {"at": text} if text else {}

    def write(self, msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.n != self.shown:
            self._emit()

    def __iter__(self):
        raise TypeError("Lines is not iterable; call update()")


def is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress(total: int, initial: int = 0, desc: str = "", unit: str = "step", **tqdm_kw):
    """A tqdm bar when stderr is a terminal, else `Lines` (plain lines every LARGEBATCH_PROGRESS_S s)."""
    if is_tty():
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc=desc, unit=unit, **tqdm_kw)
    every = float(os.environ.get("LARGEBATCH_PROGRESS_S", "30"))
    return Lines(total, initial, desc, unit, every)


__all__ = ["Lines", "progress", "is_tty"]
