"""Connection information as the admin API receives it: checked once, into frozen values.

Pure: no storage, no tracker. Every refusal is a ``BadRequest`` naming the ``field``.
Rules (the reference pages' "Connection information" step):

- short names (local and remote instance): 1-20 characters, letters, digits, ``-``, ``_``;
- connection name: 1-80 characters, no control characters (it is unique per node, which
  the lifecycle checks against storage);
- description: optional, at most 1000 characters;
- mode: ``basic`` | ``visual`` | ``script``; project keys: Jira-style, 1-50 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import msgspec

from chalicelib.config import MODES
from chalicelib.errors import BadRequest

SHORT_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
PROJECT_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,50}$")
NAME_MAX = 80
DESCRIPTION_MAX = 1000
SCRIPT_MAX = 65_536
JQL_MAX = 2000
URL_MAX = 2048
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

INITIATE_FIELDS = frozenset(
    {
        "destination_url",
        "mode",
        "local_short_name",
        "remote_short_name",
        "name",
        "description",
        "incoming_project",
        "admin_access",
        "destination_incoming_project",
    }
)
PATCH_FIELDS = frozenset(
    {
        "name",
        "description",
        "outgoing_script",
        "incoming_script",
        "mappings",
        "incoming_guard_jql",
        "conflict_rules",
        "private_comment_visibility",
        # issue 18: people and hierarchy (any mode)
        "user_map",
        "user_fallback",
        "hierarchy",
    }
)
RULE_FIELDS = frozenset(
    {"outgoing_script", "incoming_script", "mappings", "incoming_guard_jql", "conflict_rules"}
)
# replica fields whose conflicts a rule may decide (labels keep every add and remove)
CONFLICT_FIELDS = (
    "summary",
    "description",
    "type",
    "priority",
    "status",
    "fields",
    # issue 18 (components and versions keep every add and remove, as labels do)
    "due_date",
    "environment",
    "resolution",
    "assignee",
    "reporter",
    "parent",
)
SET_FIELDS = ("labels", "components", "fix_versions", "affects_versions")
USER_MAP_MAX = 1000
USER_ID_MAX = 255
HIERARCHY_CHOICES = ("parent_first", "wait")
CONFLICT_RULES = ("later", "keep")


class InitiateRequest(msgspec.Struct, frozen=True):
    destination_url: str | None
    mode: str
    local_short_name: str
    remote_short_name: str
    name: str
    description: str
    incoming_project: str
    admin_access: bool
    destination_incoming_project: str | None


class AcceptRequest(msgspec.Struct, frozen=True):
    invitation_code: str
    incoming_project: str


def _unknown_fields(body: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(
            f"Unknown field {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}.",
            code="unknown_field",
            field=unknown[0],
        )


def _required_text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise BadRequest(f"{name} is required.", code="missing_field", field=name)
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string.", code="invalid_field", field=name)
    return value.strip()


def short_name(body: Mapping[str, Any], name: str) -> str:
    value = _required_text(body, name)
    if not SHORT_NAME_RE.match(value):
        raise BadRequest(
            f"{name} must be 1-20 letters, digits, '-' or '_' (got {value!r}).",
            code="invalid_field",
            field=name,
        )
    return value


def connection_name(body: Mapping[str, Any], name: str = "name") -> str:
    value = _required_text(body, name)
    if len(value) > NAME_MAX or _CONTROL_RE.search(value):
        raise BadRequest(
            f"{name} must be 1-{NAME_MAX} characters without control characters.",
            code="invalid_field",
            field=name,
        )
    return value


def description(body: Mapping[str, Any], name: str = "description") -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > DESCRIPTION_MAX:
        raise BadRequest(
            f"{name} must be a string of at most {DESCRIPTION_MAX} characters.",
            code="invalid_field",
            field=name,
        )
    return value.strip()


def project_key(body: Mapping[str, Any], name: str) -> str:
    value = _required_text(body, name)
    if not PROJECT_KEY_RE.match(value):
        raise BadRequest(
            f"{name} is not a project key: {value!r}.", code="invalid_field", field=name
        )
    return value


def mode(body: Mapping[str, Any], name: str = "mode") -> str:
    value = _required_text(body, name)
    if value not in MODES:
        raise BadRequest(
            f"{name} must be one of {', '.join(MODES)} (got {value!r}).",
            code="invalid_field",
            field=name,
        )
    return value


def url_problem(value: Any) -> str | None:
    """Why ``value`` is not an ``http(s)://host[:port]/...`` URL, or ``None`` when it is.

    Only the shape: whether this node may call it is the outbound guard's question
    (``chalicelib.net.ssrf``), asked when it calls.
    """
    if not isinstance(value, str):
        return "it is not a string"
    if len(value) > URL_MAX:
        return f"it is longer than {URL_MAX} characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number in 0-65535
    except ValueError:
        return "it cannot be parsed"
    if parts.scheme.lower() not in ("http", "https"):
        return "it must start with http:// or https://"
    if not parts.hostname:
        return "it has no host"
    return None


def checked_url(
    value: Any, *, field: str, label: str | None = None, code: str = "invalid_field"
) -> str:
    """``value`` if it is an http(s) URL (:func:`url_problem`), else a 400 naming ``field``."""
    problem = url_problem(value)
    if problem:
        raise BadRequest(
            f"{label or field} must be an http(s) URL with a host: {problem}.",
            code=code,
            field=field,
        )
    return str(value)


def initiate_request(body: Mapping[str, Any]) -> InitiateRequest:
    """The body of ``POST /api/v1/connections``, checked."""
    _unknown_fields(body, INITIATE_FIELDS)
    url = body.get("destination_url")
    if url is not None and not isinstance(url, str):
        raise BadRequest(
            "destination_url must be a URL or null.", code="invalid_field", field="destination_url"
        )
    url = (url or "").strip() or None
    if url is not None:
        checked_url(
            url,
            field="destination_url",
            label="destination_url (the partner's public URL, or \"I don't have a URL\": null)",
            code="destination_url_not_allowed",
        )
    admin_access = body.get("admin_access", False)
    if not isinstance(admin_access, bool):
        raise BadRequest(
            "admin_access must be true or false.", code="invalid_field", field="admin_access"
        )
    other_project = body.get("destination_incoming_project")
    return InitiateRequest(
        destination_url=url,
        mode=mode(body),
        local_short_name=short_name(body, "local_short_name"),
        remote_short_name=short_name(body, "remote_short_name"),
        name=connection_name(body),
        description=description(body),
        incoming_project=project_key(body, "incoming_project"),
        admin_access=admin_access,
        destination_incoming_project=(
            None if other_project is None else project_key(body, "destination_incoming_project")
        ),
    )


def accept_request(body: Mapping[str, Any]) -> AcceptRequest:
    """The body of ``POST /api/v1/invitations/accept``, checked (the code is decoded later)."""
    _unknown_fields(body, frozenset({"invitation_code", "incoming_project"}))
    code = body.get("invitation_code")
    if not isinstance(code, str) or not code.strip():
        raise BadRequest(
            "invitation_code is required: paste the code the initiating admin sent.",
            code="missing_field",
            field="invitation_code",
        )
    return AcceptRequest(
        invitation_code=code, incoming_project=project_key(body, "incoming_project")
    )


def patch_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body of ``PATCH /api/v1/connections/{id}``: only the fields given, checked."""
    _unknown_fields(body, PATCH_FIELDS)
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = connection_name(body)
    if "description" in body:
        changes["description"] = description(body)
    for script in ("outgoing_script", "incoming_script"):
        if script in body:
            value = body[script]
            if not isinstance(value, str) or len(value) > SCRIPT_MAX:
                raise BadRequest(
                    f"{script} must be a string of at most {SCRIPT_MAX} characters.",
                    code="invalid_field",
                    field=script,
                )
            changes[script] = value
    if "mappings" in body:
        if not isinstance(body["mappings"], list):
            raise BadRequest("mappings must be a list.", code="invalid_field", field="mappings")
        changes["mappings"] = body["mappings"]
    if "incoming_guard_jql" in body:
        jql = body["incoming_guard_jql"]
        if jql is not None and (not isinstance(jql, str) or len(jql) > JQL_MAX):
            raise BadRequest(
                f"incoming_guard_jql must be JQL of at most {JQL_MAX} characters, or null.",
                code="invalid_field",
                field="incoming_guard_jql",
            )
        changes["incoming_guard_jql"] = (jql or "").strip() or None
    if "conflict_rules" in body:
        changes["conflict_rules"] = conflict_rules(body["conflict_rules"])
    if "private_comment_visibility" in body:
        changes["private_comment_visibility"] = private_comment_visibility(
            body["private_comment_visibility"]
        )
    changes.update(people_settings(body))
    return changes


def people_settings(body: Mapping[str, Any]) -> dict[str, Any]:
    """Issue 18's settings among a PATCH body's fields, checked."""
    checks = {"user_map": user_map, "user_fallback": user_fallback, "hierarchy": hierarchy}
    return {name: check(body[name]) for name, check in checks.items() if name in body}


def _user_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > USER_ID_MAX:
        raise BadRequest(
            f"{field} must be a user id (accountId, or a username on Server/Data Center) "
            f"of 1-{USER_ID_MAX} characters.",
            code="invalid_field",
            field=field,
        )
    return value.strip()


def user_map(value: Any) -> list[dict[str, str]] | None:
    """``[{"remote": id, "local": id}]``: the other side's account id or username → this
    tracker's, at most :data:`USER_MAP_MAX`, each remote id once; ``null``/``[]`` clears."""
    if value is None or value == []:
        return None
    if not isinstance(value, list):
        raise BadRequest(
            'user_map must be a list such as [{"remote": "5b10ac8d82e05b22cc7d4ef5", '
            '"local": "jsmith"}], or null.',
            code="invalid_field",
            field="user_map",
        )
    if len(value) > USER_MAP_MAX:
        raise BadRequest(
            f"user_map has {len(value)} entries; at most {USER_MAP_MAX} are allowed.",
            code="invalid_field",
            field="user_map",
        )
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, entry in enumerate(value):
        field = f"user_map[{i}]"
        if not isinstance(entry, Mapping) or set(entry) != {"remote", "local"}:
            raise BadRequest(
                f'{field} must be {{"remote": "<the other side\'s user>", '
                '"local": "<this tracker\'s user>"}.',
                code="invalid_field",
                field=field,
            )
        remote = _user_id(entry["remote"], f"{field}.remote")
        local = _user_id(entry["local"], f"{field}.local")
        if remote in seen:
            raise BadRequest(
                f"{field}.remote: {remote!r} is mapped more than once.",
                code="invalid_field",
                field=f"{field}.remote",
            )
        seen.add(remote)
        out.append({"remote": remote, "local": local})
    return out


def user_fallback(value: Any) -> dict[str, str] | str | None:
    """Who takes an unmapped person's place: ``{"user": id}`` or ``"unassigned"`` (also
    ``null``, the default)."""
    if value is None or value == "unassigned":
        return None if value is None else "unassigned"
    if not isinstance(value, Mapping) or set(value) != {"user"}:
        raise BadRequest(
            'user_fallback must be {"user": "<this tracker\'s user id>"} or "unassigned".',
            code="invalid_field",
            field="user_fallback",
        )
    return {"user": _user_id(value["user"], "user_fallback.user")}


def hierarchy(value: Any) -> str | None:
    """A child whose parent is not synced yet: ``parent_first`` (the default: its parent
    is brought under sync first) or ``wait`` (until it is); ``null``: the default."""
    if value is None:
        return None
    if value not in HIERARCHY_CHOICES:
        raise BadRequest(
            f"hierarchy must be one of {', '.join(HIERARCHY_CHOICES)}.",
            code="invalid_field",
            field="hierarchy",
        )
    return str(value)


VISIBILITY_NAME_MAX = 255  # Jira's longest group or project role name


def private_comment_visibility(value: Any) -> dict[str, str] | None:
    """``{"type": "role" | "group", "value": name}``: who may read the comments this end
    writes as internal; ``null`` goes back to the default (the Administrators role)."""
    if value is None:
        return None
    field = "private_comment_visibility"
    if not isinstance(value, Mapping) or set(value) != {"type", "value"}:
        raise BadRequest(
            f'{field} must be an object such as {{"type": "role", "value": "Administrators"}} '
            "or null.",
            code="invalid_field",
            field=field,
        )
    if value["type"] not in ("role", "group"):
        raise BadRequest(
            f'{field}.type must be "role" (a project role) or "group" (a Jira group).',
            code="invalid_field",
            field=f"{field}.type",
        )
    name = value["value"]
    if not isinstance(name, str) or not name.strip() or len(name) > VISIBILITY_NAME_MAX:
        raise BadRequest(
            f"{field}.value must name the {value['type']} in at most "
            f"{VISIBILITY_NAME_MAX} characters.",
            code="invalid_field",
            field=f"{field}.value",
        )
    return {"type": str(value["type"]), "value": name.strip()}


def conflict_rules(value: Any) -> dict[str, str]:
    """``{field: "keep" | "later"}``: which value a conflict keeps, per replica field."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequest(
            'conflict_rules must be an object such as {"summary": "keep"}.',
            code="invalid_field",
            field="conflict_rules",
        )
    for name, rule in value.items():
        if name not in CONFLICT_FIELDS:
            why = (
                f"{name} keep every add and remove of both sides"
                if name in SET_FIELDS
                else f"the fields are {', '.join(CONFLICT_FIELDS)}"
            )
            raise BadRequest(
                f"conflict_rules.{name}: {why}.",
                code="invalid_field",
                field=f"conflict_rules.{name}",
            )
        if rule not in CONFLICT_RULES:
            raise BadRequest(
                f"conflict_rules.{name} must be one of {', '.join(CONFLICT_RULES)}.",
                code="invalid_field",
                field=f"conflict_rules.{name}",
            )
    return {str(name): str(rule) for name, rule in value.items() if rule == "keep"}
