"""What chalicelib's value types share beyond :class:`msgspec.Struct` itself: a repr that
keeps secrets (and bulky duplicates) out of logs, and equality that leaves a field out.

The value types are msgspec Structs, not dataclasses, for cold start (issue 19): Python
compiles a dataclass's ``__init__``/``__repr__``/``__eq__``/``__hash__`` from source when
the class is defined (about 0.5 ms a class), msgspec builds a Struct type in C (about
0.02 ms). A Struct has no per-field ``repr=False`` or ``compare=False``: a class that needs
one overrides ``__repr__`` with :func:`repr_without`, and ``__eq__``/``__hash__`` with
:func:`values_without`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import msgspec

HIDDEN = "***"


def repr_without(
    struct: msgspec.Struct, *, secret: Collection[str] = (), omit: Collection[str] = ()
) -> str:
    """``struct``'s repr with each ``secret`` field shown as ``***`` and ``omit`` left out."""
    shown = (
        f"{name}={HIDDEN if name in secret else repr(getattr(struct, name))}"
        for name in struct.__struct_fields__
        if name not in omit
    )
    return f"{type(struct).__qualname__}({', '.join(shown)})"


def values_without(struct: msgspec.Struct, omit: Collection[str]) -> tuple[Any, ...]:
    """``struct``'s field values in order, but those named in ``omit``: what its
    ``__eq__`` and ``__hash__`` compare when a field must not count."""
    return tuple(getattr(struct, name) for name in struct.__struct_fields__ if name not in omit)
