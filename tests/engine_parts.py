"""The modules of ``spo_hotfolder.engine`` (the Engine's parts) as one target for monkeypatch.

The engine's functions and constants are imported by name into each part that uses them
(``write_temp`` into deliveries.py, ``HASH_AHEAD_MIN_BYTES`` into intake.py and scans.py): a test
that replaces one for "the engine" sets it in every part that has it, as it set it in engine.py
when the engine was one module.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any

import spo_hotfolder.engine

PARTS: list[ModuleType] = [
    importlib.import_module(f"spo_hotfolder.engine.{info.name}")
    for info in pkgutil.iter_modules(spo_hotfolder.engine.__path__)
]


class EngineParts:
    """Reads a name from the first part that has it; sets it in every part that has it. (No
    ``__dict__`` of its own: monkeypatch then restores a name by setting it back, in every part.)"""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        for module in PARTS:
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"no part of spo_hotfolder.engine has {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        having = [module for module in PARTS if hasattr(module, name)]
        if not having:
            raise AttributeError(f"no part of spo_hotfolder.engine has {name!r}")
        for module in having:
            setattr(module, name, value)


engine_module = EngineParts()
