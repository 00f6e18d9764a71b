"""The run-time walls around a compiled script: curated builtins and guarded access.

RestrictedPython rewrites attribute reads, item reads, writes, iteration and ``+=`` into
calls of the functions below. They work on an allow list: a script may use the methods of
``str``, ``list``, ``dict``, ``set`` and ``tuple`` named here and the data of
:class:`Obj`, and nothing else, so generator frames, functions, types, modules and
exceptions stay opaque (no ``gi_frame``, no ``f_globals``, no ``mro``), and
``str.format``/``format_map`` (which reach attributes by themselves) are not offered.

:class:`Obj` is how scripts see JSON data: a ``dict`` whose keys also read and write as
attributes (``replica.summary``, ``replica.type.name``), so the reference product's idioms
read naturally, while the value stays plain JSON on the way out.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence


class ScriptPolicyError(Exception):
    """A script reached for something it may not use (reported with its line)."""


class Obj(dict):
    """JSON object with attribute access: a missing key reads as ``None``."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            raise ScriptPolicyError(f'"{name}" cannot be set')
        self[name] = value

    def __delattr__(self, name: str) -> None:
        self.pop(name, None)

    def copy(self) -> Obj:
        return Obj(self)


def to_script(value: Any) -> Any:
    """JSON data → what scripts see (every object an :class:`Obj`, every array a list)."""
    if isinstance(value, dict):
        return Obj({str(k): to_script(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return [to_script(v) for v in value]
    return value


STR_METHODS = frozenset(
    [
        "capitalize",
        "casefold",
        "center",
        "count",
        "endswith",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isdecimal",
        "isdigit",
        "islower",
        "isnumeric",
        "isspace",
        "istitle",
        "isupper",
        "join",
        "ljust",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rindex",
        "rjust",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
        "zfill",
    ]
)
LIST_METHODS = frozenset(
    [
        "append",
        "clear",
        "copy",
        "count",
        "extend",
        "index",
        "insert",
        "pop",
        "remove",
        "reverse",
        "sort",
    ]
)
DICT_METHODS = frozenset(
    ["clear", "copy", "get", "items", "keys", "pop", "popitem", "setdefault", "update", "values"]
)
SET_METHODS = frozenset(
    [
        "add",
        "clear",
        "copy",
        "difference",
        "discard",
        "intersection",
        "isdisjoint",
        "issubset",
        "issuperset",
        "pop",
        "remove",
        "symmetric_difference",
        "union",
        "update",
    ]
)
TUPLE_METHODS = frozenset({"count", "index"})
EXCEPTION_ATTRIBUTES = frozenset({"args"})

_METHODS: dict[type, frozenset[str]] = {
    str: STR_METHODS,
    list: LIST_METHODS,
    dict: DICT_METHODS,
    set: SET_METHODS,
    frozenset: SET_METHODS - {"add", "clear", "discard", "pop", "remove", "update"},
    tuple: TUPLE_METHODS,
}


def _kind(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` in a script: data of an ``Obj``, or an allowed method of a container."""
    if not isinstance(name, str) or name.startswith("_"):
        raise ScriptPolicyError(f'"{name}" is not available to scripts')
    if isinstance(obj, Obj):
        if name in obj:
            return obj[name]
        if name in DICT_METHODS:
            return getattr(obj, name)
        return None
    allowed = _METHODS.get(type(obj))
    if isinstance(obj, str) and name in ("format", "format_map"):
        raise ScriptPolicyError(
            f"str.{name} is not available to scripts (it reaches attributes by itself); "
            "use an f-string or +"
        )
    if allowed is not None and name in allowed:
        return getattr(obj, name)
    if isinstance(obj, BaseException) and name in EXCEPTION_ATTRIBUTES:
        return getattr(obj, name)
    if obj is None:
        raise AttributeError(f"cannot read '.{name}' of None (the value is missing)")
    if allowed is not None:
        raise AttributeError(f"{_kind(obj)} has no attribute '{name}' that scripts may use")
    raise ScriptPolicyError(f"attributes of {_kind(obj)} values are not available to scripts")


_SUBSCRIPTABLE = (dict, list, tuple, str, range)


def guarded_getitem(obj: Any, key: Any) -> Any:
    """``obj[key]`` in a script: containers only."""
    if isinstance(obj, _SUBSCRIPTABLE):
        return obj[key]
    if obj is None:
        raise TypeError(f"cannot read [{key!r}] of None (the value is missing)")
    raise ScriptPolicyError(f"{_kind(obj)} values cannot be indexed in scripts")


def guarded_write(obj: Any) -> Any:
    """The target of ``obj.x = …`` / ``obj[k] = …``: only data (Obj, dict, list)."""
    if isinstance(obj, dict | list):
        return obj
    raise ScriptPolicyError(f"{_kind(obj)} values cannot be changed by scripts")


def guarded_iter(obj: Any) -> Any:
    return iter(obj)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "|=": operator.ior,
    "&=": operator.iand,
    "^=": operator.ixor,
}


def inplacevar(op: str, x: Any, y: Any) -> Any:
    """``x op= y`` (RestrictedPython leaves it to us; no ``<<=`` bit tricks needed)."""
    try:
        return _INPLACE[op](x, y)
    except KeyError:
        raise ScriptPolicyError(f"the operator {op} is not available to scripts") from None


def apply_call(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


class LogCollector:
    """``print`` and ``log`` in a script: lines kept (bounded) for the run's report."""

    MAX_LINES = 200
    MAX_CHARS = 2000

    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, *values: Any) -> None:
        if len(self.lines) < self.MAX_LINES:
            self.lines.append(" ".join(str(v) for v in values)[: self.MAX_CHARS])

    def print_factory(self, _getattr_: Any = None) -> Any:
        collector = self

        class _Printer:
            def _call_print(self, *values: Any, **_ignored: Any) -> None:
                collector.log(*values)

            def __call__(self) -> str:
                return "\n".join(collector.lines)

        return _Printer()


def _safe_sorted(iterable: Iterable[Any], *, key: Any = None, reverse: bool = False) -> list[Any]:
    return sorted(iterable, key=key, reverse=reverse)


SAFE_BUILTINS: dict[str, Any] = {
    name: value
    for name, value in {
        "None": None,
        "True": True,
        "False": False,
        "abs": abs,
        "all": all,
        "any": any,
        "bool": bool,
        "dict": dict,
        "divmod": divmod,
        "enumerate": enumerate,
        "filter": filter,
        "float": float,
        "frozenset": frozenset,
        "int": int,
        "isinstance": isinstance,
        "len": len,
        "list": list,
        "map": map,
        "max": max,
        "min": min,
        "range": range,
        "repr": repr,
        "reversed": reversed,
        "round": round,
        "set": set,
        "sorted": _safe_sorted,
        "str": str,
        "sum": sum,
        "tuple": tuple,
        "zip": zip,
        "ArithmeticError": ArithmeticError,
        "AttributeError": AttributeError,
        "Exception": Exception,
        "IndexError": IndexError,
        "KeyError": KeyError,
        "LookupError": LookupError,
        "TypeError": TypeError,
        "ValueError": ValueError,
        "ZeroDivisionError": ZeroDivisionError,
    }.items()
}


def restricted_globals(collector: LogCollector, names: dict[str, Any]) -> dict[str, Any]:
    """The globals a compiled script runs with: guards, curated builtins, ``names``."""
    env: dict[str, Any] = {
        "__builtins__": dict(SAFE_BUILTINS),
        "__name__": "sync_script",
        "_getattr_": guarded_getattr,
        "_getitem_": guarded_getitem,
        "_write_": guarded_write,
        "_getiter_": guarded_iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_inplacevar_": inplacevar,
        "_apply_": apply_call,
        "_print_": collector.print_factory,
        "log": collector.log,
    }
    env.update(names)
    return env
