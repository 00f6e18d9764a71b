"""Python's cycle collector held while a Lambda function starts (issue 19, cold start).

A cold start allocates some 60,000 objects that live as long as the container: modules,
classes, functions, the route table, the PynamoDB models. Python's collector, counting
allocations, runs over and over while they are made (the young generation every 700
objects, then the older ones) and finds almost nothing: a few hundred objects of cyclic
garbage. Those runs cost about a tenth of a function's cold start (``bench/coldstart.py``
prints the share).

So, in a Lambda runtime only (``AWS_LAMBDA_FUNCTION_NAME`` set; the local stack, the CLI
and the tests keep Python's default), importing this module turns the collector off, and
the end of the function's first invocation turns it back on (:func:`release_after_call`,
the app's middleware for every kind of event). Releasing first freezes what is alive then
(:func:`gc.freeze`): the collector never walks those long-lived objects again, and the
first invocation's garbage cycles, if any, stay with them for the container's life (a few
hundred objects; measured, not collected: a full collection there would cost more than
the collector's runs it spares).

User code never runs with the collector held: the script runner releases it before it
starts a script (``app.py``).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from typing import Any

_held = False


def hold() -> bool:
    """Turn the collector off for this function's start; ``False`` outside Lambda (or when
    the collector is already off: someone else holds it, and releases it)."""
    global _held
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or not gc.isenabled():
        return False
    gc.disable()
    _held = True
    return True


def release() -> None:
    """Freeze what is alive and turn the collector back on (once; later calls do nothing)."""
    global _held
    if _held:
        _held = False
        gc.freeze()
        gc.enable()


def held() -> bool:
    return _held


def release_after_call(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware (every event type): the first invocation's end releases it."""
    try:
        return get_response(event)
    finally:
        release()


hold()
