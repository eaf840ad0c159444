"""Names a package exports but imports only on first use (PEP 562), so the CLI stays quick."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], object], list[str]]:
    """A module `__getattr__` that imports `exports[name]` (a module path) on first use, and
    the sorted `__all__`."""

    def __getattr__(name: str) -> object:
        if name in exports:
            return getattr(import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, sorted(exports)
