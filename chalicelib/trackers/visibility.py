"""Who may read a restricted comment (:class:`CommentVisibility`), apart from
:mod:`chalicelib.trackers.base` (which names it too) so that a connection's resource
(``sync/privacy.py``) does not build the adapters' values to read it (issue 19, cold start).
"""

from __future__ import annotations

from typing import Literal

import msgspec


class CommentVisibility(msgspec.Struct, frozen=True):
    """Who may read a restricted comment: members of a project role or of a group."""

    type: Literal["role", "group"]
    value: str

    def as_json(self) -> dict[str, str]:
        return {"type": self.type, "value": self.value}


# Jira's default project role for administrators, present on Server/DC and Cloud alike.
DEFAULT_PRIVATE_VISIBILITY = CommentVisibility("role", "Administrators")
