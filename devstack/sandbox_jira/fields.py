"""Reading the ``fields``/``update`` of issue create and edit requests, as Jira validates them.

Problems are collected per field and answered together as Jira does:
``400 {"errorMessages": [], "errors": {"summary": "...", "issuetype": "..."}}``.
Bodies must match the API version: ADF in REST v3, a string in REST v2; a Cloud site stores
ADF, a Server site stores wiki markup. A field is set only when it is on the operation's
screen (see ``screens.py``): an unknown ``customfield_`` id or a field off the screen
refuses the whole write, and a field the screen requires must be given.
"""

from __future__ import annotations

import re
from typing import Any

from . import adf
from .errors import JiraError, bad_request, field_errors
from .fields_relations import CATALOG_FIELDS, HierarchyChecks
from .screens import NOT_ON_DEFAULT_SCREENS, SYSTEM_NAMES, find_resolution
from .store import PRIORITIES, IssueRec, ProjectRec, Store

SETTABLE = {"summary", "description", "environment", "issuetype", "labels", "priority"}
USER_FIELDS = {"reporter", "assignee"}
CUSTOM_RE = re.compile(r"^customfield_\d+$")
NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
NOT_SETTABLE = "Field '{}' cannot be set. It is not on the appropriate screen, or unknown."


class FieldReader(HierarchyChecks):
    """Turns a request's fields into store values for one site and API version."""

    def __init__(self, store: Store, version: int) -> None:
        self.store = store
        self.version = version
        self.cloud = store.flavour == "cloud"
        self.errors: dict[str, str] = {}
        self.screen: set[str] | None = None  # field ids settable now (None: default screen)
        self.project_id: str | None = None  # issue 18: whose components and versions

    def fail_if_errors(self) -> None:
        if self.errors:
            raise field_errors(self.errors)

    # --- create -------------------------------------------------------------------------

    def create(self, body: Any) -> tuple[ProjectRec, dict[str, Any], dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("fields", {}), dict):
            raise bad_request("Can not deserialize instance of issue fields.")
        fields = dict(body.get("fields") or {})
        project = self.project(fields.pop("project", None))
        self.project_id = project.id if project else None
        values: dict[str, Any] = {}
        type_ref = fields.pop("issuetype", None)
        if type_ref is None:
            self.errors["issuetype"] = "Specify an issue type"
        elif project is not None:
            issue_type = self.issue_type(type_ref, project)
            if issue_type:
                values["issuetype"] = issue_type
        if "summary" not in fields:
            self.errors["summary"] = "You must specify a summary of the issue."
        screens = (project.screens if project else None) or {}
        self.screen = self.screen_ids(screens.get("create"))
        if self.screen is not None:
            self.screen.add("summary")  # Jira keeps the summary on every create screen
        values.update(self.values(fields, body.get("update")))
        self.require(screens.get("required") or [], values)
        self.check_hierarchy(values, None, project)  # issue 18 (fields_relations.py)
        properties = self.properties(body.get("properties"))
        self.fail_if_errors()
        assert project is not None
        return project, values, properties

    def project(self, ref: Any) -> ProjectRec | None:
        found = None
        if isinstance(ref, dict):
            key = ref.get("key") or ref.get("id")
            found = self.store.project(str(key)) if key else None
        elif isinstance(ref, str | int):
            found = self.store.project(str(ref))
        if found is None:
            self.errors["project"] = "valid project is required"
        return found

    def issue_type(self, ref: Any, project: ProjectRec) -> str | None:
        name = None
        if isinstance(ref, dict):
            if "name" in ref:
                name = ref["name"]
            elif "id" in ref:
                name = next(
                    (n for n, i in self.store.issue_types.items() if i == str(ref["id"])), None
                )
        if name not in project.issue_types:
            self.errors["issuetype"] = (
                "The issue type selected is invalid."
                if self.cloud
                else "valid issue type is required"
            )
            return None
        return name

    def properties(self, raw: Any) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, list) or not all(isinstance(p, dict) and "key" in p for p in raw):
            self.errors["properties"] = "Properties must be a list of key/value objects."
            return {}
        return {str(p["key"]): p.get("value") for p in raw}

    # --- edit ---------------------------------------------------------------------------

    def edit(self, body: Any, issue: IssueRec) -> dict[str, Any]:
        if not isinstance(body, dict) or ("fields" not in body and "update" not in body):
            raise bad_request("No content to map due to end-of-input")
        fields = dict(body.get("fields") or {})
        if "project" in fields:
            self.errors["project"] = NOT_SETTABLE.format("project")
            fields.pop("project")
        project = self.store.projects[issue.project_id]
        self.project_id = project.id
        self.screen = self.screen_ids((project.screens or {}).get("edit"))
        values: dict[str, Any] = {}
        if "issuetype" in fields and not self.allowed("issuetype"):
            self.errors["issuetype"] = NOT_SETTABLE.format("issuetype")
            fields.pop("issuetype")
        if "issuetype" in fields:
            name = self.issue_type(fields.pop("issuetype"), project)
            values = {"issuetype": name} if name else {}
        values.update(self.values(fields, body.get("update"), issue))
        self.check_hierarchy(values, issue)  # issue 18 (fields_relations.py)
        self.fail_if_errors()
        return values

    def transition(
        self, body: dict[str, Any], issue: IssueRec, chosen: dict[str, Any]
    ) -> dict[str, Any]:
        """What a transition request sets: only the fields on the transition's screen (none
        when it has no screen), and every field the screen requires."""
        fields = body.get("fields") or {}
        if not isinstance(fields, dict):
            raise bad_request("Can not deserialize instance of issue fields.")
        self.screen = self.screen_ids(chosen.get("screen") or [])
        self.project_id = issue.project_id
        values = self.values(dict(fields), body.get("update"), issue)
        self.require(chosen.get("required") or [], values)
        self.fail_if_errors()
        return values

    # --- screens ------------------------------------------------------------------------

    def field_ref(self, ref: str) -> str:
        """A field id from an id or a custom field's name (as screens may name them)."""
        if ref in SYSTEM_NAMES or CUSTOM_RE.match(ref):
            return ref
        low = ref.lower()
        return next((f.id for f in self.store.fields.values() if f.name.lower() == low), ref)

    def screen_ids(self, refs: list[str] | None) -> set[str] | None:
        return None if refs is None else {self.field_ref(r) for r in refs}

    def allowed(self, name: str) -> bool:
        """On the current screen; an id the site does not define is on none."""
        if CUSTOM_RE.match(name) and name not in self.store.fields:
            return False
        if self.screen is None:
            return name not in NOT_ON_DEFAULT_SCREENS
        return name in self.screen

    def require(self, refs: list[str], values: dict[str, Any]) -> None:
        for ref in refs:
            fid = self.field_ref(ref)
            if fid in self.errors or values.get(fid) not in (None, "", []):
                continue
            label = SYSTEM_NAMES.get(fid) or self.store.field_name(fid) or fid
            self.errors[fid] = f"{label} is required."

    # --- shared -------------------------------------------------------------------------

    def values(
        self, fields: dict[str, Any], update: Any, issue: IssueRec | None = None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in fields.items():
            self.one(name, value, out)
        if update is not None:
            self.apply_update(update, out, issue)
        return out

    def one(self, name: str, value: Any, out: dict[str, Any]) -> None:
        if not self.allowed(name):
            self.errors[name] = NOT_SETTABLE.format(name)
        elif name == "summary":
            self.summary(value, out)
        elif name in ("description", "environment"):
            body = self.body(name, value)
            if body is not _INVALID:
                out[name] = body
        elif name == "labels":
            self.labels(value, out)
        elif name == "priority":
            self.priority(value, out)
        elif name in USER_FIELDS:
            self.user(name, value, out)
        elif name == "resolution":
            self.resolution(value, out)
        elif name == "parent":
            self.parent(value, out)
        elif CUSTOM_RE.match(name):
            self.custom(name, value, out)
        elif name in CATALOG_FIELDS:
            self.catalog_field(name, value, out)  # issue 18 (fields_relations.py)
        else:
            self.errors[name] = NOT_SETTABLE.format(name)

    def parent(self, value: Any, out: dict[str, Any]) -> None:
        """``{"key": "ABC-1"}`` or ``{"id": "10000"}``: an issue of the site."""
        ref = value.get("key") or value.get("id") if isinstance(value, dict) else None
        found = self.store.issue(str(ref)) if ref else None
        if value is None:
            out["parent"] = None
        elif found is None:
            self.errors["parent"] = "Could not find issue by id or key."
        else:
            out["parent"] = found.id

    def resolution(self, value: Any, out: dict[str, Any]) -> None:
        name = find_resolution(value) if value is not None else None
        if value is not None and name is None:
            self.errors["resolution"] = "Could not find valid 'id' or 'name' in resolution object."
        else:
            out["resolution"] = name

    def custom(self, name: str, value: Any, out: dict[str, Any]) -> None:
        """A custom field's value, checked against its type (``allowed`` has already
        refused an id the site does not define)."""
        rec = self.store.fields.get(name)
        kind = rec.type if rec else "any"
        if kind.startswith("epic_"):
            self.epic_value(name, kind, value, out)  # issue 18 (fields_relations.py)
            return
        number = isinstance(value, int | float) and not isinstance(value, bool)
        strings = isinstance(value, list) and all(isinstance(x, str) for x in value)
        ok = (
            value is None
            or kind == "any"
            or (kind == "string" and isinstance(value, str))
            or (kind == "number" and number)
            or (kind == "array" and strings)
        )
        if not ok:
            wanted = {"string": "a string", "number": "a number", "array": "a list of strings"}
            self.errors[name] = f"Operation value must be {wanted[kind]}"
        else:
            out[name] = value

    def summary(self, value: Any, out: dict[str, Any]) -> None:
        if not isinstance(value, str):
            self.errors["summary"] = "Operation value must be a string"
        elif not value.strip():
            self.errors["summary"] = "You must specify a summary of the issue."
        elif len(value) > 255:
            self.errors["summary"] = "Summary must be less than 255 characters."
        elif "\n" in value or "\r" in value:
            self.errors["summary"] = (
                "The summary is invalid because it contains newline characters."
            )
        else:
            out["summary"] = value

    def body(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        if self.version == 3:
            if not adf.is_doc(value):
                self.errors[name] = NOT_ADF
                return _INVALID
            return value
        if not isinstance(value, str):
            self.errors[name] = "Operation value must be a string"
            return _INVALID
        return adf.from_text(value) if self.cloud else value

    def labels(self, value: Any, out: dict[str, Any]) -> None:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.errors["labels"] = "Operation value must be a string"
            return
        for label in value:
            if " " in label or not label:
                self.errors["labels"] = f"The label '{label}' contains spaces which is invalid."
                return
            if len(label) > 255:
                self.errors["labels"] = "The label must not exceed 255 characters."
                return
        out["labels"] = list(dict.fromkeys(value))

    def priority(self, value: Any, out: dict[str, Any]) -> None:
        if value is None:
            out["priority"] = None
            return
        ref = value if isinstance(value, dict) else {}
        if "name" in ref:
            match = next((n for _, n in PRIORITIES if n.lower() == str(ref["name"]).lower()), None)
            problem = f"Priority name '{ref['name']}' is not valid"
        else:
            match = next((n for i, n in PRIORITIES if i == str(ref.get("id"))), None)
            problem = f"Priority with id '{ref.get('id')}' does not exist"
        if match is None:
            self.errors["priority"] = problem
        else:
            out["priority"] = match

    def user(self, name: str, value: Any, out: dict[str, Any]) -> None:
        if value is None:
            if name == "reporter":
                self.errors[name] = "Reporter is required."
            else:
                out[name] = None
            return
        ref = None
        if isinstance(value, dict):
            ref = value.get("accountId") if self.cloud else value.get("name") or value.get("key")
        user = self.store.find_user(str(ref)) if ref else None
        if user is None:
            self.errors[name] = (
                f"Specified {name} is not a user."
                if name == "reporter"
                else f"User '{ref}' does not exist."
            )
        else:
            out[name] = user.id

    def apply_update(self, update: Any, out: dict[str, Any], issue: IssueRec | None) -> None:
        """Jira's ``update`` verbs: ``set`` for any field, ``add``/``remove`` for labels."""
        if not isinstance(update, dict):
            self.errors["update"] = "Operation value must be an object"
            return
        for name, ops in update.items():
            if not self.allowed(name):
                self.errors[name] = NOT_SETTABLE.format(name)
                continue
            if not isinstance(ops, list):
                self.errors[name] = "Operation value must be a list of operations"
                continue
            for op in ops:
                if not isinstance(op, dict) or len(op) != 1:
                    self.errors[name] = "Each operation must have exactly one verb"
                    continue
                verb, value = next(iter(op.items()))
                if verb == "set":
                    self.one(name, value, out)
                elif name == "labels" and verb in ("add", "remove") and isinstance(value, str):
                    current = list(out.get("labels", issue.labels if issue else []))
                    if verb == "add" and value not in current:
                        current.append(value)
                    if verb == "remove" and value in current:
                        current.remove(value)
                    self.labels(current, out)
                else:
                    self.errors[name] = f"Field '{name}' does not support the '{verb}' operation."


_INVALID = object()


def comment_body(store: Store, version: int, body: Any) -> tuple[Any, dict[str, Any] | None]:
    """The stored body and visibility of a comment request; Jira's 400 when invalid."""
    if not isinstance(body, dict):
        raise bad_request("Can not deserialize instance of comment.")
    value = body.get("body")
    if value is None or value == "" or (adf.is_doc(value) and not value.get("content")):
        raise field_errors({"comment": "Comment body can not be empty!"})
    if version == 3 and not adf.is_doc(value):
        raise field_errors({"comment": "Comment body is not a valid Atlassian Document."})
    if version == 2 and not isinstance(value, str):
        raise field_errors({"comment": "Comment body must be a string."})
    stored = adf.from_text(value) if (version == 2 and store.flavour == "cloud") else value
    visibility = body.get("visibility")
    if visibility is not None:
        if not isinstance(visibility, dict) or visibility.get("type") not in ("group", "role"):
            raise field_errors({"commentLevel": "Visibility type must be 'group' or 'role'."})
        if not (visibility.get("value") or visibility.get("identifier")):
            raise field_errors(
                {"commentLevel": "You are currently not a member of the project role: ."}
            )
    return stored, visibility


def comment_properties(body: Any) -> dict[str, Any]:
    """Entity properties sent with a comment (``[{"key": ..., "value": ...}]``)."""
    raw = body.get("properties") if isinstance(body, dict) else None
    if raw is None:
        return {}
    if not isinstance(raw, list) or not all(isinstance(p, dict) and "key" in p for p in raw):
        raise field_errors({"properties": "Properties must be a list of key/value objects."})
    return {str(p["key"]): p.get("value") for p in raw}


def require_json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise JiraError(400, ["Unexpected request body: expected a JSON object."])
    return body
