"""Issue 18: project components and versions, and the issue fields that name them (with
the due date and the environment), a mixin of ``JiraTracker``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from chalicelib.trackers.base import Body, BodyFormat, Component, IssueFields, ProjectVersion
from chalicelib.trackers.jira_part import JiraPart


def parse_component(data: Mapping[str, Any]) -> Component:
    return Component(
        str(data["id"]), str(data.get("name") or ""), str(data.get("description") or "")
    )


def parse_version(data: Mapping[str, Any]) -> ProjectVersion:
    return ProjectVersion(
        id=str(data["id"]),
        name=str(data.get("name") or ""),
        description=str(data.get("description") or ""),
        released=bool(data.get("released")),
        archived=bool(data.get("archived")),
        release_date=str(data["releaseDate"]) if data.get("releaseDate") else None,
    )


def _names(raw: Any) -> tuple[str, ...]:
    return tuple(str(i["name"]) for i in raw or () if isinstance(i, Mapping) and i.get("name"))


def parse_catalog(fields: Mapping[str, Any], body_format: BodyFormat) -> dict[str, Any]:
    """``Issue``'s components, versions, due date and environment from its fields."""
    environment = fields.get("environment")
    return {
        "components": _names(fields.get("components")),
        "fix_versions": _names(fields.get("fixVersions")),
        "versions": _names(fields.get("versions")),
        "due_date": str(fields["duedate"]) if fields.get("duedate") else None,
        "environment": Body(body_format, environment) if environment not in (None, "") else None,
    }


class JiraCatalog(JiraPart):
    """Components and versions by name; their fields on create and edit."""

    def catalog_payload(self, fields: IssueFields) -> dict[str, Any]:
        """The ``fields`` for what ``IssueFields`` sets of components, versions, the due
        date and the environment (names: Jira resolves them in the issue's project)."""
        out: dict[str, Any] = {}
        for attr, field_id in (
            ("components", "components"),
            ("fix_versions", "fixVersions"),
            ("versions", "versions"),
        ):
            names = getattr(fields, attr)
            if names is not None:
                out[field_id] = [{"name": name} for name in names]
        if fields.due_date is not None:
            out["duedate"] = fields.due_date or None
        if fields.environment is not None:
            out["environment"] = self.own_body(fields.environment)
        return out

    def list_components(self, project: str) -> list[Component]:
        listed = self.http.json("GET", f"{self.api}/project/{quote(project, safe='')}/components")
        return [parse_component(c) for c in listed or () if isinstance(c, Mapping)]

    def create_component(self, project: str, name: str, description: str = "") -> Component:
        body = {"project": project, "name": name, "description": description}
        return parse_component(self.http.json("POST", f"{self.api}/component", json=body))

    def list_versions(self, project: str) -> list[ProjectVersion]:
        listed = self.http.json("GET", f"{self.api}/project/{quote(project, safe='')}/versions")
        return [parse_version(x) for x in listed or () if isinstance(x, Mapping)]

    def create_version(
        self,
        project: str,
        name: str,
        *,
        description: str = "",
        released: bool = False,
        release_date: str | None = None,
    ) -> ProjectVersion:
        """``projectId``: Cloud's document marks the ``project`` key deprecated here."""
        owner = self.http.json("GET", f"{self.api}/project/{quote(project, safe='')}")
        body: dict[str, Any] = {
            "projectId": int(owner["id"]),
            "name": name,
            "description": description,
            "released": released,
        }
        if release_date:
            body["releaseDate"] = release_date
        return parse_version(self.http.json("POST", f"{self.api}/version", json=body))
