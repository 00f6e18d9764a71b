"""Connection ends stored directly, for tests of the sync stages (not of the lifecycle)."""

from __future__ import annotations

from typing import Any

from chalicelib.connections.store import seal_key
from chalicelib.store.models import ConnectionModel

KEY = b"k" * 32


def saved_connection(connection_id: str = "conn-1", **overrides: Any) -> ConnectionModel:
    """An active acceptor end whose peer is private (so nothing is called out).

    Its key is ``KEY`` sealed as the node seals keys (the root must be built); a test of
    legacy records passes ``key=`` a plaintext one.
    """
    values: dict[str, Any] = {
        "id": connection_id,
        "name": f"connection {connection_id}",
        "mode": "basic",
        "status": "active",
        "role": "acceptor",
        "local_short_name": "Globex",
        "remote_short_name": "Acme",
        "incoming_project": "OPS",
        "remote_node_id": "node-z",
        "remote_url": None,
        "remote_public": False,
    }
    values.update(overrides)
    if "key" not in overrides:
        values["key"] = seal_key(connection_id, KEY)
    connection = ConnectionModel(**values)
    connection.save()
    return connection
