"""The operation lists an incoming script hands back from ``merge_comments()`` and
``merge_worklogs()``: each item checked the same way (an action, the remote id, the local
id this twin's map knows), so the two parsers differ only in what an item carries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal, cast

from chalicelib.rules.script.errors import ScriptError

INCOMING = "incoming_script"
ACTIONS = ("create", "update", "delete")
Action = Literal["create", "update", "delete"]


def refused(message: str) -> ScriptError:
    """The incoming script's result is not what the sync needs."""
    return ScriptError(message, kind="result", script=INCOMING)


def merged_ops(
    value: Any,
    *,
    noun: str,
    known: Mapping[str, Mapping[str, Any]],
    synced_only: bool,
) -> Iterator[tuple[Mapping[str, Any], Action, str, str | None]]:
    """``(item, action, remote_id, local_id)`` for each item of ``issue.<noun>s``, which
    must be what ``merge_<noun>s()`` returned. ``known``: the twin's map of remote to local
    ids; ``synced_only``: an update or delete of an item never copied here is refused."""
    if value is None:
        return
    what = f"issue.{noun}s must be what merge_{noun}s() returns"
    if not isinstance(value, list):
        raise refused(what)
    for item in value:
        if not isinstance(item, Mapping) or item.get("action") not in ACTIONS:
            raise refused(what)
        remote_id = item.get("remote_id")
        if not isinstance(remote_id, str) or not remote_id:
            raise refused(f"a {noun} operation needs the remote {noun} id")
        mapped = known.get(remote_id)
        local_id = mapped.get("local_id") if mapped else None
        if synced_only and item["action"] != "create" and local_id is None:
            raise refused(f"{noun} {remote_id} was never synced here; it cannot be changed")
        yield item, cast(Action, item["action"]), remote_id, local_id
