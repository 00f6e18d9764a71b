"""What incoming rules decide: a plan of tracker writes, applied by the sync worker.

Rules (Basic, Visual, Script) are pure functions from a replica and the twin's state to a
:class:`Plan`; only the worker touches the tracker. The same plan types serve every mode,
so "default scripts equal Basic" is a comparison of plans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from chalicelib.trackers.base import Body, BodyFormat, IssueFields, Project


@dataclass(frozen=True)
class CommentOp:
    action: Literal["create", "update", "delete"]
    remote_id: str
    local_id: str | None = None
    body: Body | None = None
    body_hash: str | None = None
    public: bool = True


@dataclass(frozen=True)
class AttachmentOp:
    action: Literal["copy"]
    remote_id: str
    filename: str
    size: int
    mime_type: str
    sha256: str | None


@dataclass(frozen=True)
class Plan:
    """Tracker writes for one replica. ``status`` is a status name reached through a
    workflow transition after the fields are written (Jira has no "set status")."""

    fields: IssueFields | None = None
    comments: tuple[CommentOp, ...] = ()
    attachments: tuple[AttachmentOp, ...] = ()
    status: str | None = None

    @property
    def empty(self) -> bool:
        return (
            self.fields is None
            and not self.comments
            and not self.attachments
            and self.status is None
        )

    def changes(self) -> list[str]:
        """Names of what the plan changes, for the twin's history."""
        names: list[str] = []
        if self.fields is not None:
            for name in ("summary", "description", "issue_type", "labels", "priority"):
                if getattr(self.fields, name) is not None:
                    names.append(name)
            names.extend(f"field:{k}" for k in self.fields.custom)
        if self.status is not None:
            names.append("status")
        names.extend(f"comment:{op.action}:{op.remote_id}" for op in self.comments)
        names.extend(f"attachment:{op.action}:{op.remote_id}" for op in self.attachments)
        return names


@dataclass(frozen=True)
class IncomingContext:
    """Everything an incoming rule may look at (and nothing it could write through)."""

    replica: Mapping[str, Any]
    previous: Mapping[str, Any] | None
    first_sync: bool
    project: Project
    body_format: BodyFormat
    remote_short_name: str
    previous_hashes: Mapping[str, str] = field(default_factory=dict)
    comment_map: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    attachment_map: Mapping[str, str] = field(default_factory=dict)
