"""JSON representations of sandbox state, in Jira's REST shapes per flavour and API version.

Cloud REST v3 carries ADF bodies and identifies users by ``accountId``; REST v2 (Server, and
the webhook bodies of both flavours) carries bodies as strings; Server identifies users by
``name``/``key``. Every ``self`` link points back at the sandbox's own base URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from . import adf
from . import render_relations as rel
from .screens import RESOLUTIONS
from .store import (
    PRIORITIES,
    AttachmentRec,
    CommentRec,
    HistoryRec,
    IssueRec,
    ProjectRec,
    Store,
    UserRec,
)
from .timefmt import jira_time
from .visibility import visible

INTERNAL_PROPERTY = "sd.public.comment"
ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
NOT_NAVIGABLE = {"comment"}
FIELD_NAMES = {
    "summary": "Summary",
    "description": "Description",
    "environment": "Environment",
    "issuetype": "Issue Type",
    "project": "Project",
    "labels": "Labels",
    "priority": "Priority",
    "status": "Status",
    "reporter": "Reporter",
    "creator": "Creator",
    "assignee": "Assignee",
    "created": "Created",
    "updated": "Updated",
    "comment": "Comment",
    "attachment": "Attachment",
    "resolution": "Resolution",
    "resolutiondate": "Resolved",
    "duedate": "Due date",
    "issuelinks": "Linked Issues",
    "subtasks": "Sub-tasks",
    "components": "Components",
    "fixVersions": "Fix versions",
    "versions": "Affects versions",
    "statuscategorychangedate": "Status Category Changed",
}
# system field id -> (schema type, schema items), for ``GET field``
SYSTEM_FIELD_TYPES: dict[str, tuple[str, str | None]] = {
    "summary": ("string", None),
    "description": ("string", None),
    "environment": ("string", None),
    "issuetype": ("issuetype", None),
    "project": ("project", None),
    "labels": ("array", "string"),
    "priority": ("priority", None),
    "status": ("status", None),
    "reporter": ("user", None),
    "creator": ("user", None),
    "assignee": ("user", None),
    "created": ("datetime", None),
    "updated": ("datetime", None),
    "comment": ("comments-page", None),
    "attachment": ("array", "attachment"),
    "resolution": ("resolution", None),
    "resolutiondate": ("datetime", None),
    "duedate": ("date", None),
    "issuelinks": ("array", "issuelinks"),
    "subtasks": ("array", "issuelinks"),
    "components": ("array", "component"),
    "fixVersions": ("array", "version"),
    "versions": ("array", "version"),
    "statuscategorychangedate": ("datetime", None),
}
_PLUGIN = "com.atlassian.jira.plugin.system.customfieldtypes:"
CUSTOM_FIELD_SCHEMAS = {  # sandbox field type -> (schema type, Jira's custom field type)
    "string": ("string", _PLUGIN + "textfield"),
    "number": ("number", _PLUGIN + "float"),
    "array": ("array", _PLUGIN + "labels"),
    "any": ("any", _PLUGIN + "textarea"),
    # issue 18: Jira Software's epic fields on Server
    "epic_link": ("any", "com.pyxis.greenhopper.jira:gh-epic-link"),
    "epic_name": ("string", "com.pyxis.greenhopper.jira:gh-epic-label"),
}
TYPE_DESCRIPTIONS = {
    "Bug": "A problem or error.",
    "Task": "A small, distinct piece of work.",
    "Story": "Functionality or a feature expressed as a user goal.",
    "Epic": "A big user story that needs to be broken down.",
    "Sub-task": "A small piece of work that's part of a larger task.",
}


class FieldSelection:
    """Jira's ``fields`` parameter: ``*all``, ``*navigable``, names, and ``-name`` exclusions."""

    def __init__(self, values: Iterable[str] | None, default: str) -> None:
        items = [i.strip() for v in (values or []) for i in v.split(",") if i.strip()]
        positive = [i for i in items if not i.startswith("-")]
        self.excluded = {i[1:] for i in items if i.startswith("-")}
        self.all = False
        self.navigable = False
        self.names: set[str] = set()
        for item in positive or [default]:
            if item == "*all":
                self.all = True
            elif item == "*navigable":
                self.navigable = True
            else:
                self.names.add(item)
        self.id_only = not self.all and not self.navigable and self.names <= {"id"}

    def wants(self, name: str) -> bool:
        if name in self.excluded:
            return False
        if self.all or name in self.names:
            return True
        return self.navigable and name not in NOT_NAVIGABLE


class Renderer:
    """Builds Jira-shaped JSON for one site (one flavour, one base URL)."""

    def __init__(self, store: Store, base_url: str) -> None:
        self.store = store
        self.base = base_url.rstrip("/")
        self.cloud = store.flavour == "cloud"

    def api(self, version: int) -> str:
        return f"{self.base}/rest/api/{version}"

    # --- bodies -------------------------------------------------------------------------

    def body(self, value: Any, version: int) -> Any:
        """A stored body as the given API version shows it (ADF in v3, a string in v2)."""
        if value is None:
            return None
        if version == 3:
            return value if isinstance(value, dict) else adf.from_text(str(value))
        return adf.to_text(value) if isinstance(value, dict) else str(value)

    # --- users --------------------------------------------------------------------------

    def avatars(self, seed: str, kind: str = "useravatar") -> dict[str, str]:
        sizes = {
            "48x48": "",
            "24x24": "size=small&",
            "16x16": "size=xsmall&",
            "32x32": "size=medium&",
        }
        return {s: f"{self.base}/secure/{kind}?{q}ownerId={quote(seed)}" for s, q in sizes.items()}

    def user(self, user: UserRec | None, version: int, *, full: bool = False) -> Any:
        if user is None:
            return None
        if self.cloud:
            data: dict[str, Any] = {
                "self": f"{self.api(version)}/user?accountId={quote(user.id)}",
                "accountId": user.id,
                "accountType": "atlassian",
                "emailAddress": user.email,
                "avatarUrls": self.avatars(user.id),
                "displayName": user.display_name,
                "active": user.active,
                "timeZone": user.time_zone,
            }
            if not user.email_visible:  # issue 18: the profile hides it
                del data["emailAddress"]
        else:
            data = {
                "self": f"{self.api(2)}/user?username={quote(user.name or '')}",
                "key": user.id,
                "name": user.name,
                "emailAddress": user.email,
                "avatarUrls": self.avatars(user.id),
                "displayName": user.display_name,
                "active": user.active,
                "timeZone": user.time_zone,
            }
        if full:
            data.update(
                locale="en_US",
                groups={"size": 1, "items": []},
                applicationRoles={"size": 1, "items": []},
                expand="groups,applicationRoles",
            )
        return data

    def user_id(self, user_id: str | None, version: int) -> Any:
        return self.user(self.store.users.get(user_id or ""), version)

    # --- catalogue items ----------------------------------------------------------------

    def issue_type(self, name: str, version: int) -> dict[str, Any]:
        type_id = self.store.issue_type_id(name)
        data: dict[str, Any] = {
            "self": f"{self.api(version)}/issuetype/{type_id}",
            "id": type_id,
            "description": TYPE_DESCRIPTIONS.get(name, ""),
            "iconUrl": f"{self.base}/secure/viewavatar?size=xsmall&avatarId=10318"
            "&avatarType=issuetype",
            "name": name,
            "subtask": self.store.hierarchy_level(name) == -1,
            "avatarId": 10318,
        }
        if self.cloud:
            data["hierarchyLevel"] = self.store.hierarchy_level(name)
        return data

    def project_ref(self, project: ProjectRec, version: int) -> dict[str, Any]:
        data: dict[str, Any] = {
            "self": f"{self.api(version)}/project/{project.id}",
            "id": project.id,
            "key": project.key,
            "name": project.name,
            "projectTypeKey": project.project_type,
            "avatarUrls": self.avatars(project.id, "projectavatar"),
        }
        if self.cloud:
            data["simplified"] = False
        return data

    def project(
        self, project: ProjectRec, version: int, *, detail: bool, issue_types: bool = False
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
            **self.project_ref(project, version),
        }
        if self.cloud:
            data.update(style="classic", isPrivate=False, properties={})
        else:
            data["archived"] = False
        if detail:
            data.update(
                description="",
                lead=self.user_id(project.lead, version)
                or self.user(next(iter(self.store.users.values()), None), version),
                components=[],
                assigneeType="UNASSIGNED",
                versions=[],
                roles={},
            )
            if data["lead"] is None:
                del data["lead"]
        if detail or issue_types:
            data["issueTypes"] = [self.issue_type(n, version) for n in project.issue_types]
        return data

    def status(self, name: str, version: int) -> dict[str, Any]:
        sid = self.store.status_id(name)
        cat_id, cat_key, colour, cat_name = self.store.status_category(name)
        return {
            "self": f"{self.api(version)}/status/{sid}",
            "description": "",
            "iconUrl": f"{self.base}/",
            "name": name,
            "id": sid,
            "statusCategory": {
                "self": f"{self.api(version)}/statuscategory/{cat_id}",
                "id": cat_id,
                "key": cat_key,
                "colorName": colour,
                "name": cat_name,
            },
        }

    def transition(
        self, item: dict[str, Any], version: int, *, with_fields: bool = False
    ) -> dict[str, Any]:
        """One workflow transition as ``GET issue/{key}/transitions`` lists it (its screen's
        fields with ``expand=transitions.fields``)."""
        data: dict[str, Any] = {
            "id": item["id"],
            "name": item["name"],
            "to": self.status(item["to"], version),
        }
        if with_fields:
            required = {self.field_ref(f) for f in item.get("required", [])}
            data["fields"] = {
                fid: self.screen_field(fid, fid in required)
                for fid in (self.field_ref(f) for f in item.get("screen", []))
            }
        if self.cloud:
            data.update(
                hasScreen=bool(item.get("screen")),
                isGlobal=not item["from"],
                isInitial=False,
                isAvailable=True,
                isConditional=False,
                isLooped=False,
            )
        return data

    def field_ref(self, ref: str) -> str:
        low = ref.lower()
        return next((f.id for f in self.store.fields.values() if f.name.lower() == low), ref)

    def screen_field(self, fid: str, required: bool) -> dict[str, Any]:
        """A field of a transition screen, as ``expand=transitions.fields`` shows it."""
        rec = self.store.fields.get(fid)
        if rec is not None:
            custom_type, plugin = CUSTOM_FIELD_SCHEMAS[rec.type]
            schema: dict[str, Any] = {"type": custom_type, "custom": plugin}
            name = rec.name
        else:
            schema_type, _ = SYSTEM_FIELD_TYPES.get(fid, ("string", None))
            schema = {"type": schema_type, "system": fid}
            name = FIELD_NAMES.get(fid, fid)
        out: dict[str, Any] = {
            "required": required,
            "schema": schema,
            "name": name,
            "key": fid,
            "hasDefaultValue": False,
            "operations": ["set"],
        }
        if fid == "resolution":
            out["allowedValues"] = [self.resolution(n) for _, n, _ in RESOLUTIONS]
        return out

    def parent(self, parent: IssueRec, version: int) -> dict[str, Any]:
        return {
            "id": parent.id,
            "key": parent.key,
            "self": f"{self.api(version)}/issue/{parent.id}",
            "fields": {
                "summary": parent.summary,
                "status": self.status(parent.status, version),
                "priority": self.priority(parent.priority, version),
                "issuetype": self.issue_type(parent.issue_type, version),
            },
        }

    def resolution(self, name: str | None) -> dict[str, Any] | None:
        if name is None:
            return None
        rid, _, description = next(r for r in RESOLUTIONS if r[1] == name)
        return {
            "self": f"{self.base}/rest/api/2/resolution/{rid}",
            "id": rid,
            "description": description,
            "name": name,
        }

    def fields(self, version: int) -> list[dict[str, Any]]:
        """``GET field``: the system fields the sandbox has, then the site's custom fields."""
        out = []
        for fid, (schema_type, items) in SYSTEM_FIELD_TYPES.items():
            if fid == "statuscategorychangedate" and not self.cloud:
                continue
            schema: dict[str, Any] = {"type": schema_type, "system": fid}
            if items:
                schema["items"] = items
            item: dict[str, Any] = {"id": fid, "name": FIELD_NAMES[fid], "custom": False}
            if self.cloud:
                item["key"] = fid
            item.update(
                orderable=fid not in ("created", "updated", "status", "creator", "comment"),
                navigable=fid != "comment",
                searchable=True,
                clauseNames=[fid],
                schema=schema,
            )
            out.append(item)
        for rec in self.store.fields.values():
            number = int(rec.id.removeprefix("customfield_"))
            custom_type, plugin = CUSTOM_FIELD_SCHEMAS[rec.type]
            schema = {"type": custom_type, "custom": plugin, "customId": number}
            if rec.type == "array":
                schema["items"] = "string"
            item = {"id": rec.id, "name": rec.name, "custom": True}
            if self.cloud:
                item["key"] = rec.id
            item.update(
                orderable=True,
                navigable=True,
                searchable=True,
                clauseNames=[f"cf[{number}]", rec.name],
                schema=schema,
            )
            out.append(item)
        return out

    def priority(self, name: str | None, version: int) -> dict[str, Any] | None:
        if name is None:
            return None
        pid = next(p for p, n in PRIORITIES if n == name)
        return {
            "self": f"{self.api(version)}/priority/{pid}",
            "iconUrl": f"{self.base}/images/icons/priorities/{name.lower()}.svg",
            "name": name,
            "id": pid,
        }

    # --- comments and attachments -------------------------------------------------------

    def comment(
        self, comment: CommentRec, version: int, *, expand: Iterable[str] = ()
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "self": f"{self.api(version)}/issue/{comment.issue_id}/comment/{comment.id}",
            "id": comment.id,
            "author": self.user_id(comment.author, version),
            "body": self.body(comment.body, version),
            "updateAuthor": self.user_id(comment.update_author, version),
            "created": jira_time(comment.created),
            "updated": jira_time(comment.updated),
        }
        if self.cloud:  # what JSM does with its "sd.public.comment" property
            marker = comment.properties.get(INTERNAL_PROPERTY)
            data["jsdPublic"] = not (isinstance(marker, dict) and marker.get("internal") is True)
        if comment.visibility:
            data["visibility"] = dict(comment.visibility)
        if "properties" in expand:
            data["properties"] = [{"key": k, "value": v} for k, v in comment.properties.items()]
        return data

    def comment_page(
        self,
        issue: IssueRec,
        version: int,
        start: int = 0,
        limit: int = 5000,
        *,
        viewer: UserRec | None = None,
    ) -> dict[str, Any]:
        """The issue's comments ``viewer`` may see (``None``: all, as admin webhooks)."""
        comments = visible(viewer, self.store.issue_comments(issue))
        page = comments[start : start + limit]
        data: dict[str, Any] = {"comments": [self.comment(c, version) for c in page]}
        if self.cloud:  # Server's embedded comment page has no self link
            data["self"] = f"{self.api(version)}/issue/{issue.id}/comment"
        data.update(
            maxResults=limit if start or len(comments) > limit else len(comments),
            total=len(comments),
            startAt=start,
        )
        return data

    def content_url(self, att: AttachmentRec) -> str:
        if self.cloud:
            return f"{self.api(3)}/attachment/content/{att.id}"
        return f"{self.base}/secure/attachment/{att.id}/{quote(att.filename)}"

    def attachment(self, att: AttachmentRec, version: int, *, meta: bool = False) -> dict[str, Any]:
        author = self.store.users.get(att.author)
        data: dict[str, Any] = {
            "self": f"{self.api(version)}/attachment/{att.id}",
            "id": int(att.id) if meta else att.id,
            "filename": att.filename,
            "author": self.user(author, version),
            "created": jira_time(att.created),
            "size": att.size,
            "mimeType": att.mime_type,
            "content": self.content_url(att),
        }
        if meta:
            data["properties"] = {}
        return data

    # --- issues -------------------------------------------------------------------------

    def field_values(
        self, issue: IssueRec, version: int, viewer: UserRec | None = None
    ) -> dict[str, Callable[[], Any]]:
        """Every field of ``issue``, each computed only when selected."""
        project = self.store.projects[issue.project_id]
        fields: dict[str, Callable[[], Any]] = {
            "summary": lambda: issue.summary,
            "description": lambda: self.body(issue.description, version),
            "environment": lambda: self.body(issue.environment, version),
            "issuetype": lambda: self.issue_type(issue.issue_type, version),
            "project": lambda: self.project_ref(project, version),
            "labels": lambda: list(issue.labels),
            "priority": lambda: self.priority(issue.priority, version),
            "status": lambda: self.status(issue.status, version),
            "reporter": lambda: self.user_id(issue.reporter, version),
            "creator": lambda: self.user_id(issue.creator, version),
            "assignee": lambda: self.user_id(issue.assignee, version),
            "created": lambda: jira_time(issue.created),
            "updated": lambda: jira_time(issue.updated),
            "attachment": lambda: [
                self.attachment(a, version) for a in self.store.issue_attachments(issue)
            ],
            "comment": lambda: self.comment_page(issue, version, viewer=viewer),
            "resolution": lambda: self.resolution(issue.resolution),
            "resolutiondate": lambda: jira_time(issue.resolved) if issue.resolved else None,
            "duedate": lambda: issue.duedate,
            "issuelinks": lambda: rel.issue_links_field(self, issue, version),
            "worklog": lambda: rel.worklog_page(self, issue, version, limit=20),
            "timespent": lambda: self.store.time_spent(issue),
            "subtasks": lambda: [
                rel.linked_issue(self, child, version) for child in self.store.children(issue)
            ],
            "components": lambda: rel.refs_field(self, "components", issue.components, version),
            "fixVersions": lambda: rel.refs_field(self, "fixVersions", issue.fix_versions, version),
            "versions": lambda: rel.refs_field(self, "versions", issue.versions, version),
        }
        parent = self.store.issues.get(issue.parent or "")
        if parent is not None:  # Jira leaves the field out when there is no parent
            fields["parent"] = lambda: self.parent(parent, version)
        if self.cloud:
            fields["statuscategorychangedate"] = lambda: jira_time(issue.created)
        for name, value in issue.custom.items():
            fields[name] = lambda v=value: v
        return fields

    def issue(
        self,
        issue: IssueRec,
        version: int,
        selection: FieldSelection | None = None,
        *,
        expand: Iterable[str] = (),
        properties: Iterable[str] = (),
        viewer: UserRec | None = None,
    ) -> dict[str, Any]:
        selection = selection or FieldSelection(None, "*all")
        if selection.id_only and not properties and not expand:
            return {"id": issue.id}
        values = self.field_values(issue, version, viewer)
        data: dict[str, Any] = {
            "expand": ISSUE_EXPAND,
            "id": issue.id,
            "self": f"{self.api(version)}/issue/{issue.id}",
            "key": issue.key,
            "fields": {n: get() for n, get in values.items() if selection.wants(n)},
        }
        expand = set(expand)
        if "names" in expand:
            data["names"] = {
                n: self.store.field_name(n) or FIELD_NAMES.get(n, n)
                for n in values
                if selection.wants(n)
            }
        if "changelog" in expand:
            data["changelog"] = self.changelog(issue, version)
        wanted = [p.strip() for v in properties for p in v.split(",") if p.strip()]
        if wanted:
            data["properties"] = {
                k: issue.properties[k]
                for k in (issue.properties if "*all" in wanted else wanted)
                if k in issue.properties
            }
        return data

    def history(self, history: HistoryRec, version: int) -> dict[str, Any]:
        return {
            "id": history.id,
            "author": self.user_id(history.author, version),
            "created": jira_time(history.created),
            "items": [dict(i) for i in history.items],
        }

    def changelog(self, issue: IssueRec, version: int) -> dict[str, Any]:
        histories = list(issue.history)
        if self.cloud:  # Cloud lists the most recent first
            histories.reverse()
        return {
            "startAt": 0,
            "maxResults": len(histories),
            "total": len(histories),
            "histories": [self.history(h, version) for h in histories],
        }

    # --- webhook shapes (REST v2, both flavours) ----------------------------------------

    def webhook_issue(self, issue: IssueRec, *, trimmed: bool = False) -> dict[str, Any]:
        if trimmed:
            wanted = ["summary", "issuetype", "project", "assignee", "priority", "status"]
            selection = FieldSelection([",".join(wanted)], "")
        else:
            selection = FieldSelection(None, "*all")
        data = self.issue(issue, 2, selection)
        data.pop("expand", None)
        return data
