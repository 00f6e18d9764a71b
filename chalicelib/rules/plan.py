"""What incoming rules decide: a plan of tracker writes, applied by the sync worker.

Rules (Basic, Visual, Script) are pure functions from a replica and the twin's state to a
:class:`Plan`; only the worker touches the tracker. The same plan types serve every mode,
so "default scripts equal Basic" is a comparison of plans.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from chalicelib.trackers.base import Body, BodyFormat, IssueFields, Project


class CommentOp(msgspec.Struct, frozen=True):
    action: Literal["create", "update", "delete"]
    remote_id: str
    local_id: str | None = None
    body: Body | None = None
    body_hash: str | None = None
    public: bool = True


class AttachmentOp(msgspec.Struct, frozen=True):
    action: Literal["copy"]
    remote_id: str
    filename: str
    size: int
    mime_type: str
    sha256: str | None


class WorklogOp(msgspec.Struct, frozen=True):
    """Issue 18: a worklog of the other side, copied here (like :class:`CommentOp`)."""

    action: Literal["create", "update", "delete"]
    remote_id: str
    local_id: str | None = None
    started: str | None = None
    seconds: int | None = None
    comment: Body | None = None  # with the attribution line
    hash: str | None = None


class LinkOp(msgspec.Struct, frozen=True):
    """Issue 18: an issue link of the other side. ``remote_key`` is the other side's key of
    the linked issue; the worker maps it to ours through the twins (and waits while that
    issue is not synced). ``direction`` as the replica's issue sees the link."""

    action: Literal["add", "remove"]
    type: str
    direction: Literal["inward", "outward"]
    remote_key: str
    # the other side added this link as a copy of one of ours: absent here, it is one we
    # removed since (an echo), not a new link to add
    copied: bool = False


class PersonOp(msgspec.Struct, frozen=True):
    """Issue 18: who is assignee or reporter here: ``person`` is the other side's
    ``{id, name, email}`` (the worker maps it through the connection's user map; an
    unmapped person falls back, never fails) or ``None`` (unassigned)."""

    role: Literal["assignee", "reporter"]
    person: Mapping[str, Any] | None


class ParentOp(msgspec.Struct, frozen=True):
    """Issue 18: the parent here is the twin of the other side's ``remote_key`` (``None``:
    no parent). A parent not synced yet is brought under sync first, or the child waits
    (the connection's ``hierarchy`` setting)."""

    remote_key: str | None


class Plan(msgspec.Struct, frozen=True):
    """Tracker writes for one replica. ``status`` is a status name reached through a
    workflow transition after the fields are written (Jira has no "set status")."""

    fields: IssueFields | None = None
    comments: tuple[CommentOp, ...] = ()
    attachments: tuple[AttachmentOp, ...] = ()
    status: str | None = None
    # issue 18
    worklogs: tuple[WorklogOp, ...] = ()
    links: tuple[LinkOp, ...] = ()
    people: tuple[PersonOp, ...] = ()
    parent: ParentOp | None = None
    # components / fix_versions / affects_versions a name of which this project lacks is
    # created here (else Jira refuses the name and the twin shows it)
    create_missing: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return (
            self.fields is None
            and not self.comments
            and not self.attachments
            and self.status is None
            and not self.worklogs
            and not self.links
            and not self.people
            and self.parent is None
        )

    def changes(self) -> list[str]:
        """Names of what the plan changes, for the twin's history."""
        names: list[str] = []
        if self.fields is not None:
            for name in (
                "summary",
                "description",
                "issue_type",
                "labels",
                "priority",
                "components",
                "fix_versions",
                "versions",
                "due_date",
                "environment",
                "resolution",
            ):
                if getattr(self.fields, name) is not None:
                    names.append(name)
            names.extend(f"field:{k}" for k in self.fields.custom)
        if self.status is not None:
            names.append("status")
        names.extend(f"comment:{op.action}:{op.remote_id}" for op in self.comments)
        names.extend(f"attachment:{op.action}:{op.remote_id}" for op in self.attachments)
        names.extend(f"worklog:{op.action}:{op.remote_id}" for op in self.worklogs)
        names.extend(f"link:{op.action}:{op.type}:{op.remote_key}" for op in self.links)
        names.extend(op.role for op in self.people)
        if self.parent is not None:
            names.append("parent")
        return names


class IncomingContext(msgspec.Struct, frozen=True):
    """Everything an incoming rule may look at (and nothing it could write through)."""

    replica: Mapping[str, Any]
    previous: Mapping[str, Any] | None
    first_sync: bool
    project: Project
    body_format: BodyFormat
    remote_short_name: str
    previous_hashes: Mapping[str, str] = msgspec.field(default_factory=dict)
    comment_map: Mapping[str, Mapping[str, str]] = msgspec.field(default_factory=dict)
    attachment_map: Mapping[str, str] = msgspec.field(default_factory=dict)
    worklog_map: Mapping[str, Mapping[str, str]] = msgspec.field(default_factory=dict)  # issue 18
