"""The replica (protocol 1): the JSON snapshot of an issue that one end sends the other.

Pure: building, hashing and validating replicas needs neither AWS nor HTTP. The hash is
over content only (no ids, versions or timestamps), so "the same issue, sent again" and
"our own write, seen again" are recognised and dropped (no echo).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the tracker's value types (a replica is JSON: cold start, issue 19)
    from chalicelib.trackers.base import Attachment, Body, Comment, Issue, User

PROTOCOL = 1
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_VOLATILE = ("id", "connection_id", "version", "updated", "url", "stamps", "twin_key", "repair")


class InvalidReplica(ValueError):
    """A replica that does not follow protocol 1; the message says which field."""


def body_json(body: Body | None) -> dict[str, Any] | None:
    return None if body is None else {"format": body.format, "value": body.value}


def body_from_json(data: Any) -> Body | None:
    if data is None:
        return None
    if not isinstance(data, Mapping) or data.get("format") not in ("adf", "wiki", "text"):
        raise InvalidReplica("a body must be {format: adf|wiki|text, value}")
    from chalicelib.trackers.base import Body

    return Body(data["format"], data.get("value"))


def comment_json(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "author": {"name": comment.author.name},
        "created": comment.created,
        "updated": comment.updated,
        "body": body_json(comment.body),
        "public": comment.public,
    }


def person_json(user: User | None) -> dict[str, Any] | None:
    """A person in replica form (issue 18): ``{id, name, email}``, and Server's
    ``username`` beside its key when it has one."""
    if user is None:
        return None
    person: dict[str, Any] = {"id": user.id, "name": user.name, "email": user.email}
    if user.username and user.username != user.id:
        person["username"] = user.username
    return person


def attachment_json(attachment: Attachment, sha256: str | None) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "size": attachment.size,
        "mime_type": attachment.mime_type,
        "sha256": sha256,
    }


def blank_replica(connection_id: str, key: str, url: str, updated: str) -> dict[str, Any]:
    """A protocol-1 replica of issue ``key`` that says nothing about it yet."""
    return {
        "id": "",
        "connection_id": connection_id,
        "entity": "issue",
        "key": key,
        "url": url,
        "version": 0,
        "updated": updated,
        "summary": "",
        "description": None,
        "type": None,
        "comments": [],
        "attachments": [],
        "labels": [],
        "priority": None,
        "status": None,
        "fields": {},
        "removed": False,
    }


def empty_replica(issue: Issue, *, connection_id: str) -> dict[str, Any]:
    """A replica with the issue's identity and nothing synced yet: rules fill it in."""
    return blank_replica(connection_id, issue.key, issue.url, issue.updated)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(replica: Mapping[str, Any]) -> str:
    """SHA-256 of what the replica says about the issue (not of when or which version)."""
    content = {k: v for k, v in replica.items() if k not in _VOLATILE}
    content["comments"] = [
        {k: v for k, v in c.items() if k != "updated"} for c in replica.get("comments", [])
    ]
    return hashlib.sha256(canonical(content).encode()).hexdigest()


def items_hash(replica: Mapping[str, Any]) -> str:
    """Hash of what the replica says beyond its fields (comments, attachments, removal):
    the parts that are merged as sets by id, not as registers."""
    content = {k: v for k, v in replica.items() if k not in FIELDS}
    return content_hash(content)


def body_hash(body: Any) -> str:
    return hashlib.sha256(canonical(body).encode()).hexdigest()[:32]


FIELDS = (
    "summary",
    "description",
    "type",
    "labels",
    "priority",
    "status",
    "fields",
    # issue 18 (Script and Visual mode only; absent from Basic's replicas): registers too
    "components",
    "fix_versions",
    "affects_versions",
    "due_date",
    "environment",
    "resolution",
    "assignee",
    "reporter",
    "parent",
)
# issue 18: lists of names (merged as observed-remove sets, like labels)
NAME_LISTS = ("labels", "components", "fix_versions", "affects_versions")
# issue 18: people, ``{id, name, email}`` (``email`` null where the tracker hides it)
PEOPLE = ("assignee", "reporter")


def field_hashes(replica: Mapping[str, Any]) -> dict[str, str]:
    """A hash per synced part (fields, each comment, each attachment): what changed, cheaply."""
    hashes = {name: body_hash(replica.get(name)) for name in FIELDS}
    for comment in replica.get("comments", []):
        hashes[f"comment:{comment['id']}"] = body_hash(comment.get("body"))
    for attachment in replica.get("attachments", []):
        hashes[f"attachment:{attachment['id']}"] = str(attachment.get("sha256") or "")
    return hashes


def stamp(replica: dict[str, Any], *, version: int) -> dict[str, Any]:
    """Give a replica its version and a deterministic id (a resend keeps the same id)."""
    replica = dict(replica)
    replica["version"] = version
    replica["id"] = f"{replica['connection_id']}:{replica['key']}:{version}"
    return replica


def _require(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise InvalidReplica(
            f"replica.{name} is missing or not a {getattr(kind, '__name__', kind)}"
        )
    return value


def validate(data: Any) -> dict[str, Any]:
    """Check an incoming replica's shape; returns it, or raises ``InvalidReplica``."""
    if not isinstance(data, Mapping):
        raise InvalidReplica("a replica must be a JSON object")
    for name in ("id", "connection_id", "key"):
        if not _require(data, name, str):
            raise InvalidReplica(f"replica.{name} must not be empty")
    if data.get("entity", "issue") != "issue":
        raise InvalidReplica("replica.entity must be 'issue'")
    version = _require(data, "version", int)
    if version < 1:
        raise InvalidReplica("replica.version must be 1 or more")
    if not isinstance(data.get("summary", ""), str):
        raise InvalidReplica("replica.summary must be a string")
    body_from_json(data.get("description"))
    type_ = data.get("type")
    if type_ is not None and not (
        isinstance(type_, Mapping) and isinstance(type_.get("name"), str)
    ):
        raise InvalidReplica("replica.type must be {name} or null")
    _validate_items(data)
    _validate_relations(data)
    if not isinstance(data.get("fields", {}), Mapping):
        raise InvalidReplica("replica.fields must be an object")
    _validate_stamps(data.get("stamps"))
    _validate_repair(data.get("repair"))
    return dict(data)


def _validate_repair(repair: Any) -> None:
    """``replica.repair`` (optional): fields the receiver writes whatever the stamps say."""
    if repair is None:
        return
    if not isinstance(repair, list) or not all(name in FIELDS for name in repair):
        raise InvalidReplica(f"replica.repair must be a list of field names out of {FIELDS}")


def _validate_stamps(stamps: Any) -> None:
    """``replica.stamps`` (optional): per field ``{at, origin, after: [at, origin]|null}``."""
    if stamps is None:
        return
    if not isinstance(stamps, Mapping):
        raise InvalidReplica("replica.stamps must be an object")
    for name, item in stamps.items():
        if not (
            isinstance(item, Mapping)
            and isinstance(item.get("at"), str)
            and isinstance(item.get("origin"), str)
        ):
            raise InvalidReplica(f"replica.stamps.{name} must be {{at, origin, after}}")
        after = item.get("after")
        if after is not None and not (
            isinstance(after, list) and len(after) == 2 and all(isinstance(x, str) for x in after)
        ):
            raise InvalidReplica(f"replica.stamps.{name}.after must be [at, origin] or null")


def _validate_relations(data: Mapping[str, Any]) -> None:
    """Issue 18's optional keys: each absent, ``null`` where a value may be, or its shape."""
    for name in NAME_LISTS[1:]:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise InvalidReplica(f"replica.{name} must be a list of names")
    due = data.get("due_date")
    if due is not None and not (isinstance(due, str) and _DATE.fullmatch(due)):
        raise InvalidReplica("replica.due_date must be YYYY-MM-DD or null")
    body_from_json(data.get("environment"))
    resolution = data.get("resolution")
    if resolution is not None and not (
        isinstance(resolution, Mapping) and isinstance(resolution.get("name"), str)
    ):
        raise InvalidReplica("replica.resolution must be {name} or null")
    for name in PEOPLE:
        person = data.get(name)
        if person is not None and not (
            isinstance(person, Mapping)
            and isinstance(person.get("id"), str)
            and isinstance(person.get("name", ""), str)
            and isinstance(person.get("email") or "", str)
        ):
            raise InvalidReplica(f"replica.{name} must be {{id, name, email}} or null")
    parent = data.get("parent")
    if parent is not None and not (
        isinstance(parent, Mapping) and isinstance(parent.get("key"), str) and parent["key"]
    ):
        raise InvalidReplica("replica.parent must be {key} or null")
    for link in data.get("links", []) if isinstance(data.get("links", []), list) else [None]:
        if not (
            isinstance(link, Mapping)
            and isinstance(link.get("type"), str)
            and link.get("direction") in ("inward", "outward")
            and isinstance(link.get("key"), str)
            and link["key"]
        ):
            raise InvalidReplica(
                "every replica.links item must be {type, direction: inward|outward, key}"
            )
    worklogs = data.get("worklogs", [])
    for worklog in worklogs if isinstance(worklogs, list) else [None]:
        if not (
            isinstance(worklog, Mapping)
            and isinstance(worklog.get("id"), str)
            and isinstance(worklog.get("started"), str)
            and isinstance(worklog.get("seconds"), int)
            and not isinstance(worklog.get("seconds"), bool)
            and worklog["seconds"] > 0
        ):
            raise InvalidReplica(
                "every replica.worklogs item needs a string id, started and seconds (> 0)"
            )
        body_from_json(worklog.get("comment"))


def _validate_items(data: Mapping[str, Any]) -> None:
    for comment in _require(data, "comments", list):
        if not isinstance(comment, Mapping) or not isinstance(comment.get("id"), str):
            raise InvalidReplica("every replica.comments item needs a string id")
        body_from_json(comment.get("body"))
    for attachment in _require(data, "attachments", list):
        if not isinstance(attachment, Mapping) or not isinstance(attachment.get("id"), str):
            raise InvalidReplica("every replica.attachments item needs a string id")
