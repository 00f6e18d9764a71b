"""Who may read a restricted comment, as Jira decides it (issue 14).

A comment's ``visibility`` names a group or a project role. Jira returns such a comment only
to members (GET comments leaves it out, GET comment answers 404, the issue's ``comment``
field leaves it out) and lets an author restrict a comment only to a group or role they are
in. Admin webhooks are not sent as a user: they carry restricted comments with their
``visibility``, and the receiver must honour it.

The sandbox's model is small: a user is in the groups given when it was created (by default
:data:`DEFAULT_GROUPS`, so a user made without ``groups`` sees everything), and each project
role holds one group (:data:`ROLE_GROUPS`, Jira Server's default role memberships), in every
project.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import field_errors
from .store import CommentRec, Store, UserRec

ROLE_GROUPS = {
    "Administrators": "jira-administrators",
    "Developers": "jira-developers",
    "Users": "jira-users",
}
DEFAULT_GROUPS = ("jira-administrators", "jira-developers", "jira-users")


def groups_of(user: UserRec) -> list[str]:
    return list(DEFAULT_GROUPS) if user.groups is None else list(user.groups)


def site_groups(store: Store) -> set[str]:
    """The groups that exist: the default ones and every group a user is in."""
    found = set(DEFAULT_GROUPS)
    for user in store.users.values():
        found.update(groups_of(user))
    return found


def _name(visibility: dict[str, Any]) -> str:
    return str(visibility.get("value") or visibility.get("identifier") or "")


def _role_group(name: str) -> str | None:
    for role, group in ROLE_GROUPS.items():
        if role.lower() == name.lower():
            return group
    return None


def can_see(user: UserRec | None, visibility: dict[str, Any] | None) -> bool:
    """``user`` may read a comment restricted to ``visibility`` (``None``: no user, as for
    admin webhooks, which see every comment)."""
    if user is None or not visibility:
        return True
    name = _name(visibility)
    if visibility.get("type") == "role":
        group = _role_group(name)
        return group is not None and group in groups_of(user)
    return name.lower() in {g.lower() for g in groups_of(user)}


def visible(user: UserRec | None, comments: Iterable[CommentRec]) -> list[CommentRec]:
    return [c for c in comments if can_see(user, c.visibility)]


def check_author(store: Store, user: UserRec, visibility: dict[str, Any] | None) -> None:
    """Jira's 400 when ``user`` may not restrict a comment to ``visibility``."""
    if not visibility:
        return
    name = _name(visibility)
    if visibility.get("type") == "role":
        if _role_group(name) is None:
            raise field_errors({"commentLevel": "Invalid role level specified."})
        if not can_see(user, visibility):
            raise field_errors(
                {"commentLevel": f"You are currently not a member of the project role: {name}."}
            )
        return
    if name.lower() not in {g.lower() for g in site_groups(store)}:
        raise field_errors({"commentLevel": f"Group: {name} does not exist."})
    if not can_see(user, visibility):
        raise field_errors(
            {"commentLevel": f"You are currently not a member of the group: {name}."}
        )
