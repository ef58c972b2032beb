"""Old module paths kept for one release: their names resolve, with a
:class:`DeprecationWarning`, to where the code lives now."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def moved(old: str, new: dict[str, str] | str) -> Callable[[str], Any]:
    """A module ``__getattr__`` for the old module ``old``: a name resolves to the same name
    in ``new`` (a module path, or name -> ``"module"`` / ``"module:new_name"``)."""

    def __getattr__(name: str) -> Any:
        target = new if isinstance(new, str) else new.get(name)
        if target is None:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        module, _, renamed = target.partition(":")
        value = getattr(importlib.import_module(module), renamed or name)
        warnings.warn(
            f"{old}.{name} is deprecated; use {module}.{renamed or name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return value

    return __getattr__
