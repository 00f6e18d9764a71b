"""Issue 18, the in-memory tracker's components, versions and users (a mixin of
:class:`~tests.factories.memory_tracker.MemoryTracker`), keeping Jira's promises:

- an issue names components and versions its project has (by name, any case; Jira's
  400 ``InvalidRequest`` otherwise), ``[]`` clears them; due date, environment and
  resolution are set as given (``""`` clears);
- ``users`` (id -> ``User``) are the people of this tracker; ``find_user_by_email``
  finds an active one by address (any case), ``set_assignee`` refuses an unknown user and
  those in ``unassignable`` (Jira's 400 "User 'x' cannot be assigned issues."),
  ``set_reporter`` an unknown one.

Tests add users with ``add_user`` and components or versions with ``add_component`` /
``add_version`` (not recorded calls).
"""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from chalicelib.trackers import base
from chalicelib.trackers.base import Component, IssueFields, ProjectVersion, User

CATALOG_ATTRS = ("components", "fix_versions", "versions")


class MemoryCatalog:
    """Components, versions and users; ``_call``/``_issue``/``_write``/``_project`` and
    ``_ids`` are the tracker's."""

    components: dict[str, list[Component]]
    versions: dict[str, list[ProjectVersion]]
    users: dict[str, User]
    unassignable: set[str]

    def _init_catalog(self) -> None:
        self.components = {}
        self.versions = {}
        self.users = {}
        self.unassignable = set()

    # --- helpers for tests --------------------------------------------------------------------

    def add_user(self, user_id: str, name: str = "", email: str | None = None) -> User:
        user = User(user_id, name or user_id, email)
        self.users[user_id] = user
        return user

    def add_component(self, project: str, name: str) -> Component:
        made = Component(str(next(self._ids)), name)  # type: ignore[attr-defined]
        self.components.setdefault(project, []).append(made)
        return made

    def add_version(self, project: str, name: str) -> ProjectVersion:
        made = ProjectVersion(str(next(self._ids)), name)  # type: ignore[attr-defined]
        self.versions.setdefault(project, []).append(made)
        return made

    # --- what create and update write -----------------------------------------------------------

    def _catalog_changes(self, project: str, fields: IssueFields) -> dict[str, Any]:
        """The issue 18 fields ``fields`` sets, checked against the project's catalog."""
        changes: dict[str, Any] = {}
        for attr in CATALOG_ATTRS:
            names = getattr(fields, attr)
            if names is None:
                continue
            listed = self.components if attr == "components" else self.versions
            have = {x.name.lower(): x.name for x in listed.get(project, [])}
            unknown = [n for n in names if n.lower() not in have]
            if unknown:
                field = {"fix_versions": "fixVersions"}.get(attr, attr)
                message = f"{attr.rstrip('s').replace('_', ' ')} name '{unknown[0]}' is not valid"
                raise base.InvalidRequest(message, field_errors={field: message})
            changes[attr] = tuple(have[n.lower()] for n in names)
        if fields.due_date is not None:
            changes["due_date"] = fields.due_date or None
        if fields.environment is not None:
            empty = fields.environment.value in (None, "")
            changes["environment"] = None if empty else fields.environment
        if fields.resolution is not None:
            changes["resolution"] = fields.resolution or None
        return changes

    # --- the protocol (TrackerRelations: catalogs and users) -----------------------------------

    def list_components(self, project: str) -> list[Component]:
        self._call("list_components")  # type: ignore[attr-defined]
        self._project(project)  # type: ignore[attr-defined]
        return list(self.components.get(project, []))

    def create_component(self, project: str, name: str, description: str = "") -> Component:
        self._call("create_component")  # type: ignore[attr-defined]
        self._project(project)  # type: ignore[attr-defined]
        if any(c.name.lower() == name.lower() for c in self.components.get(project, [])):
            message = f"A component with the name {name} already exists in this project."
            raise base.InvalidRequest(message, field_errors={"name": message})
        made = self.add_component(project, name)
        return replace(made, description=description)

    def list_versions(self, project: str) -> list[ProjectVersion]:
        self._call("list_versions")  # type: ignore[attr-defined]
        self._project(project)  # type: ignore[attr-defined]
        return list(self.versions.get(project, []))

    def create_version(
        self,
        project: str,
        name: str,
        *,
        description: str = "",
        released: bool = False,
        release_date: str | None = None,
    ) -> ProjectVersion:
        self._call("create_version")  # type: ignore[attr-defined]
        self._project(project)  # type: ignore[attr-defined]
        if any(v.name.lower() == name.lower() for v in self.versions.get(project, [])):
            message = "A version with this name already exists in this project."
            raise base.InvalidRequest(message, field_errors={"name": message})
        made = self.add_version(project, name)
        return replace(made, description=description, released=released)

    def find_user_by_email(self, email: str) -> User | None:
        self._call("find_user_by_email")  # type: ignore[attr-defined]
        low = email.strip().lower()
        return next((u for u in self.users.values() if (u.email or "").lower() == low), None)

    def get_user(self, user_id: str) -> User:
        self._call("get_user")  # type: ignore[attr-defined]
        if user_id not in self.users:
            raise base.NotFound(f"user {user_id} does not exist", status=404)
        return self.users[user_id]

    def set_assignee(self, key: str, user_id: str | None) -> None:
        self._call("set_assignee")  # type: ignore[attr-defined]
        self._issue(key)  # type: ignore[attr-defined]
        if user_id is not None and (user_id not in self.users or user_id in self.unassignable):
            message = f"User '{user_id}' cannot be assigned issues."
            raise base.InvalidRequest(message, field_errors={"assignee": message})
        self._write(key, assignee=self.users[user_id] if user_id else None)  # type: ignore[attr-defined]

    def set_reporter(self, key: str, user_id: str) -> None:
        self._call("set_reporter")  # type: ignore[attr-defined]
        self._issue(key)  # type: ignore[attr-defined]
        if user_id not in self.users:
            message = f"The reporter specified is not a user: {user_id}"
            raise base.InvalidRequest(message, field_errors={"reporter": message})
        self._write(key, reporter=self.users[user_id])  # type: ignore[attr-defined]
