"""Name -> builder registries for models and datasets, which studies extend (timm's `register_model`).

The core registers its own entries at import (largebatch.models, largebatch.data); a study registers its
own in `experiments/<study>/models.py` or `data.py` with the same decorator:

    from largebatch.models import register_model

    @register_model("alexnet_mlp")
    def alexnet_mlp(in_shape, classes, width, depth):
        return AlexNetMLP(in_shape, classes, width or 256)

A name the core lacks is looked up in every study's part of that kind, imported on first need, so
`python -m largebatch.train --model=alexnet_mlp` works without naming the study. largebatch.study, which
finds the studies, installs that loader when it is imported (the command lines import it; a lookup before
that sees the core's names only). An unknown name is a ConfigError listing the choices, closest first.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator

from .errors import ConfigError


def did_you_mean(key: str, names) -> str:
    """'; did you mean a, b?' for the names closest to `key` ('' when none is close)."""
    names = list(names)
    near = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
    near += [n for n in names if key[:4] and key[:4] in n and n not in near]
    return f"; did you mean {', '.join(near[:3])}?" if near else ""


_study_loader: Callable[[str], None] | None = None  # imports every study's <part>.py (largebatch.study)


def set_study_loader(fn: Callable[[str], None]) -> None:
    """Called by largebatch.study at import: how a registry imports the studies' parts of its kind."""
    global _study_loader
    _study_loader = fn


def _origin(fn: Callable) -> tuple:
    code = getattr(getattr(fn, "load", fn), "__code__", None)  # a DatasetSpec: its loader
    return (code.co_filename, code.co_firstlineno) if code is not None else (id(fn),)


class Registry:
    """A dict-like {name: builder} that loads the studies' parts named `part` on a miss."""

    def __init__(self, kind: str, part: str):
        self.kind, self.part = kind, part
        self._items: dict[str, Callable] = {}
        self._studies_loaded = False

    def register(self, name: str | None = None) -> Callable[[Callable], Callable]:
        """Decorator: register `fn` under `name` (default: its own name)."""

        def deco(fn: Callable) -> Callable:
            self[name or fn.__name__] = fn
            return fn

        return deco

    def __setitem__(self, name: str, fn: Callable) -> None:
        old = self._items.get(name)
        # the same source line imported again (a study module under a second import name) may re-register
        if old is not None and _origin(old) != _origin(fn):
            raise ValueError(f"{self.kind} {name!r} is registered twice ({old!r} and {fn!r})")
        self._items[name] = fn

    def load_studies(self) -> None:
        """Import every study's `<part>.py` once (each registers its entries)."""
        if self._studies_loaded or _study_loader is None:
            return
        self._studies_loaded = True
        _study_loader(self.part)

    def __contains__(self, name: object) -> bool:
        if name in self._items:
            return True
        self.load_studies()
        return name in self._items

    def __getitem__(self, name: str) -> Callable:
        if name not in self:
            names = self.names()
            raise ConfigError(
                f"{self.kind}={name!r}: choose one of {', '.join(names)}{did_you_mean(name, names)}"
            )
        return self._items[name]

    def get(self, name: str) -> Callable:
        return self[name]

    def names(self, core_only: bool = False) -> tuple[str, ...]:
        """Every registered name (the core's first, then the studies' in the order they were found)."""
        if not core_only:
            self.load_studies()
        return tuple(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def items(self):
        return [(k, self._items[k]) for k in self.names()]


__all__ = ["Registry", "did_you_mean"]
