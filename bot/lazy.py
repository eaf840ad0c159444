"""What keeps the command line quick: names a package exports but imports only on first use
(PEP 562), and an exit that does not walk every object of the ML stack once more."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from importlib import import_module
from typing import NoReturn


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


def exit_quickly(code: int) -> NoReturn:
    """Exit with `code`, leaving the interpreter's last garbage collections out.

    With torch and transformers imported they take about 1.5 s between a command's last
    line and the shell's prompt. `gc.freeze()` moves every object out of their reach; the
    objects are still released by reference counting, and files are flushed and closed as
    on any exit. Only unreachable reference cycles are left to the operating system.
    """
    gc.freeze()
    sys.exit(code)
