"""The stack file (``devstack/stack.toml``): which trackers and nodes the local stack runs.

Parsed into frozen types and validated as a whole, so a user sees every mistake at once.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("jira_cloud", "jira_server")
FIELD_TYPES = ("string", "number", "array", "any")
SCREEN_KINDS = ("create", "edit", "required")


class StackFileError(Exception):
    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


@dataclass(frozen=True)
class ProjectSpec:
    """A sandbox project. ``screens`` (``create``/``edit``/``required`` field lists) and
    ``workflow`` (statuses, transitions with their screens) are handed to the sandbox as
    they are (see ``devstack/sandbox_jira/screens.py`` and ``workflow.py``)."""

    key: str
    name: str
    issue_types: tuple[str, ...]
    default_issue_type: str | None
    screens: dict[str, list[str]] | None = field(default=None, hash=False)
    workflow: dict[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class FieldSpec:
    """A custom field a sandbox tracker defines (``id``: ``customfield_NNNNN``, or made)."""

    name: str
    type: str = "string"
    id: str | None = None


@dataclass(frozen=True)
class TrackerSpec:
    name: str
    kind: str
    sandbox: bool = True
    port: int = 0
    webhooks: bool = True
    projects: tuple[ProjectSpec, ...] = ()
    fields: tuple[FieldSpec, ...] = ()
    url: str | None = None
    user: str | None = None
    token_env: str | None = None

    @property
    def flavour(self) -> str:
        return "cloud" if self.kind == "jira_cloud" else "server"


@dataclass(frozen=True)
class NodeSpec:
    name: str
    label: str
    port: int
    public: bool
    tracker: str
    settings: tuple[tuple[str, str], ...] = ()  # extra TWINSYNC_* variables for this node
    webhook_jql: str | None = None  # the tracker's webhook to this node fires only for these issues


@dataclass(frozen=True)
class StackSpec:
    aws_port: int
    trackers: dict[str, TrackerSpec] = field(default_factory=dict)
    nodes: dict[str, NodeSpec] = field(default_factory=dict)
    poll_every: float = 2.0
    reconcile_every: float = 30.0


def _port(value: Any, where: str, problems: list[str]) -> int:
    if not isinstance(value, int) or not 0 <= value <= 65535:
        problems.append(f"{where}.port must be 0 (free port) or 1-65535")
        return 0
    return value


def _projects(raw: list[Any], where: str, problems: list[str]) -> tuple[ProjectSpec, ...]:
    projects = []
    for i, p in enumerate(raw):
        if not isinstance(p, dict) or not p.get("key") or not p.get("issue_types"):
            problems.append(f"{where}.projects[{i}] needs key and issue_types")
            continue
        projects.append(
            ProjectSpec(
                key=str(p["key"]),
                name=str(p.get("name", p["key"])),
                issue_types=tuple(p["issue_types"]),
                default_issue_type=p.get("default_issue_type"),
                screens=_screens(p.get("screens"), f"{where}.projects[{i}]", problems),
                workflow=_workflow(p.get("workflow"), f"{where}.projects[{i}]", problems),
            )
        )
    return tuple(projects)


def _screens(raw: Any, where: str, problems: list[str]) -> dict[str, list[str]] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - set(SCREEN_KINDS):
        problems.append(f"{where}.screens takes {', '.join(SCREEN_KINDS)} (lists of fields)")
        return None
    out = {}
    for kind, value in raw.items():
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            problems.append(f"{where}.screens.{kind} must be a list of field ids or names")
            continue
        out[kind] = list(value)
    return out


def _workflow(raw: Any, where: str, problems: list[str]) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("statuses"), list):
        problems.append(f"{where}.workflow needs statuses (and may list transitions)")
        return None
    return raw


def _fields(raw: Any, where: str, problems: list[str]) -> tuple[FieldSpec, ...]:
    if not isinstance(raw, list):
        problems.append(f"{where}.fields must be a list of {{name, type, id}}")
        return ()
    out = []
    for i, item in enumerate(raw):
        ok = isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]
        kind = item.get("type", "string") if isinstance(item, dict) else None
        fid = item.get("id") if isinstance(item, dict) else None
        if not ok or kind not in FIELD_TYPES:
            problems.append(
                f"{where}.fields[{i}] needs a name and a type among {', '.join(FIELD_TYPES)}"
            )
            continue
        if fid is not None and not (
            isinstance(fid, str) and fid.startswith("customfield_") and fid[12:].isdigit()
        ):
            problems.append(f"{where}.fields[{i}].id must be customfield_NNNNN")
            continue
        out.append(FieldSpec(name=str(item["name"]), type=str(kind), id=fid))
    return tuple(out)


def _tracker(name: str, raw: dict[str, Any], problems: list[str]) -> TrackerSpec:
    where = f"trackers.{name}"
    kind = raw.get("kind")
    if kind not in KINDS:
        problems.append(f"{where}.kind must be one of {', '.join(KINDS)}")
    sandbox = bool(raw.get("sandbox", True))
    if not sandbox:
        for needed in ("url", "user", "token_env"):
            if not raw.get(needed):
                problems.append(f"{where}.{needed} is required for a real Jira (sandbox = false)")
    return TrackerSpec(
        name=name,
        kind=str(kind),
        sandbox=sandbox,
        port=_port(raw.get("port", 0), where, problems),
        webhooks=bool(raw.get("webhooks", True)),
        projects=_projects(raw.get("projects", []), where, problems),
        fields=_fields(raw.get("fields", []), where, problems),
        url=raw.get("url"),
        user=raw.get("user"),
        token_env=raw.get("token_env"),
    )


def parse(data: dict[str, Any], path: Path | str = "stack file") -> StackSpec:
    problems: list[str] = []
    trackers = {n: _tracker(n, t, problems) for n, t in data.get("trackers", {}).items()}
    nodes = {}
    for name, raw in data.get("nodes", {}).items():
        tracker = raw.get("tracker")
        if tracker not in trackers:
            problems.append(f"nodes.{name}.tracker must name a tracker, got {tracker!r}")
        settings = raw.get("settings", {})
        if not isinstance(settings, dict) or not all(
            str(k).startswith("TWINSYNC_") for k in settings
        ):
            problems.append(f"nodes.{name}.settings must be a table of TWINSYNC_* variables")
            settings = {}
        jql = raw.get("webhook_jql")
        if jql is not None and (not isinstance(jql, str) or not jql.strip()):
            problems.append(f"nodes.{name}.webhook_jql must be a JQL query (a non-empty string)")
            jql = None
        nodes[name] = NodeSpec(
            name=name,
            label=str(raw.get("name", name)),
            port=_port(raw.get("port", 0), f"nodes.{name}", problems),
            public=bool(raw.get("public", True)),
            tracker=str(tracker),
            settings=tuple((str(k), str(v)) for k, v in settings.items()),
            webhook_jql=jql,
        )
    if not nodes:
        problems.append("at least one [nodes.NAME] is required")
    schedules = data.get("schedules", {})
    spec = StackSpec(
        aws_port=_port(data.get("aws", {}).get("port", 0), "aws", problems),
        trackers=trackers,
        nodes=nodes,
        poll_every=float(schedules.get("poll_every", 2)),
        reconcile_every=float(schedules.get("reconcile_every", 30)),
    )
    if problems:
        raise StackFileError(path, problems)
    return spec


def load(path: Path | str) -> StackSpec:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise StackFileError(path, ["file not found"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise StackFileError(path, [f"not valid TOML: {exc}"]) from exc
    return parse(data, path)


def with_free_ports(spec: StackSpec) -> StackSpec:
    """The same stack with every port set to 0 (tests run beside a user's stack)."""
    return StackSpec(
        aws_port=0,
        trackers={n: _replace_port(t) for n, t in spec.trackers.items()},
        nodes={n: _replace_port(t) for n, t in spec.nodes.items()},
        poll_every=spec.poll_every,
        reconcile_every=spec.reconcile_every,
    )


def _replace_port(item: Any) -> Any:
    from dataclasses import replace

    return replace(item, port=0)
