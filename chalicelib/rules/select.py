"""Which rules a connection runs: chosen by its mode, validated when configured."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.rules import basic
from chalicelib.rules.plan import IncomingContext, Plan
from chalicelib.store.models import ConnectionModel

OutgoingRule = Callable[..., dict[str, Any]]
IncomingRule = Callable[[IncomingContext], Plan]


def outgoing_rule(connection: ConnectionModel) -> OutgoingRule:
    return basic.outgoing


def incoming_rule(connection: ConnectionModel) -> IncomingRule:
    return basic.incoming
