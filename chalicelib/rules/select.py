"""Which rules a connection runs: chosen by its mode, validated when configured.

- ``basic``: the fixed rules of :mod:`chalicelib.rules.basic`;
- ``script``: the end's scripts, run in the sandbox (:mod:`chalicelib.rules.script`);
- ``visual``: the end's mappings compiled to rule functions (:mod:`chalicelib.rules.visual`).

Every rule has the same signature whatever the mode, so the sync workers never branch on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.rules import basic
from chalicelib.rules.plan import IncomingContext, Plan
from chalicelib.store.models import ConnectionModel

OutgoingRule = Callable[..., dict[str, Any]]
IncomingRule = Callable[[IncomingContext], Plan]


def outgoing_rule(connection: ConnectionModel) -> OutgoingRule:
    if connection.mode == "script":
        from chalicelib.rules.script import rules as script
        from chalicelib.rules.script.defaults import DEFAULT_OUTGOING

        return script.outgoing_rule(connection.outgoing_script or DEFAULT_OUTGOING)
    if connection.mode == "visual":
        from chalicelib.rules import visual

        return visual.outgoing_rule(connection.mappings)
    return basic.outgoing


def incoming_rule(connection: ConnectionModel) -> IncomingRule:
    if connection.mode == "script":
        from chalicelib.rules.script import rules as script
        from chalicelib.rules.script.defaults import DEFAULT_INCOMING

        return script.incoming_rule(
            connection.incoming_script or DEFAULT_INCOMING, connection_id=connection.id
        )
    if connection.mode == "visual":
        from chalicelib.rules import visual

        return visual.incoming_rule(connection.mappings)
    return basic.incoming
