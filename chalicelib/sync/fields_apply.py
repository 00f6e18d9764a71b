"""Issue 18: writing what Script and Visual rules planned beyond Basic's fields: people
through the connection's user map (an unmapped person falls back, never fails a sync), and
components and versions the project lacks, created when the rules allow it.

:func:`prepare` runs before anything is written: names this project lacks are created
(``plan.create_missing``) or left out, and each person is mapped to a user of this
tracker, so the plan says exactly what will be written (``apply._written`` remembers it,
and our own write is not sent back as an edit). What was left out or fell back is a note
in the twin's history (:func:`apply_people`), never an error: the twin is synced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from chalicelib.rules.plan import Plan
from chalicelib.rules.replica import body_json
from chalicelib.store.models import ConnectionModel, TwinModel
from chalicelib.sync.events import record_transaction
from chalicelib.sync.services import SyncDeps
from chalicelib.trackers.base import IssueFields, RateLimited, TrackerError, Unavailable

if TYPE_CHECKING:  # the people mapper is imported where a person is written (issue 19)
    from chalicelib.sync.people import PeopleMapper, Target

log = logging.getLogger("twinsync.sync.fields")


def _people_mapper(connection: ConnectionModel, *, deps: SyncDeps) -> PeopleMapper:
    """The people mapper, imported where a person is written (cold start, issue 19)."""
    from chalicelib.sync.people import PeopleMapper

    return PeopleMapper(connection, deps.tracker)


# IssueFields attribute, the script's / replica's name, the catalog it names, shown as
CATALOG = (
    ("components", "components", "components", "Component"),
    ("fix_versions", "fix_versions", "versions", "Fix version"),
    ("versions", "affects_versions", "versions", "Affects version"),
)
NOTE = "note: "  # a history entry's outcome that only tells (the twin is synced)


class PreparedPlan(Plan, frozen=True):
    """A plan as this tracker can take it: ``targets`` are the people mapped to users of
    this tracker, ``notes`` what the twin's history should say (nothing failed)."""

    notes: tuple[str, ...] = ()
    targets: tuple[Target, ...] = ()


def prepare(connection: ConnectionModel, plan: Plan, *, deps: SyncDeps) -> Plan:
    """Before the fields are written: the plan as this tracker can take it."""
    notes: list[str] = []
    wanted = plan.fields
    if wanted is not None:
        wanted = _catalog(connection, wanted, plan.create_missing, notes, deps=deps)
    targets: tuple[Target, ...] = ()
    if plan.people:
        mapper = _people_mapper(connection, deps=deps)
        targets = tuple(mapper.target(op) for op in plan.people)
        notes.extend(t.note for t in targets if t.note)
    if wanted is plan.fields and not notes and not targets:
        return plan
    kept = {name: getattr(plan, name) for name in Plan.__struct_fields__}
    return PreparedPlan(
        **{**kept, "fields": wanted}, notes=(*getattr(plan, "notes", ()), *notes), targets=targets
    )


def written(plan: Plan, *, status_set: bool) -> dict[str, Any]:
    """What the plan writes of issue 18's registers, in replica form as this end's
    outgoing rules (``fields_api.view``) show them: the names :func:`prepare` kept, the
    users the people were mapped to (``{id}``: people compare by id)."""
    out: dict[str, Any] = {}
    fields = plan.fields
    if fields is not None:
        for attr, name, _, _ in CATALOG:
            if getattr(fields, attr) is not None:
                out[name] = list(getattr(fields, attr))
        if fields.due_date is not None:
            out["due_date"] = fields.due_date or None
        if fields.environment is not None:
            out["environment"] = body_json(fields.environment)
        # not the resolution: whether it lands is not known here. Jira's default screens
        # take it on the transition into a done status only (a create never carries it,
        # and a workflow's post function may choose another), so remembering the planned
        # one would send the value Jira kept back as an edit, and undo it over there.
        # Unremembered, the value read back is the agreed one (no edit), or the old one
        # (no edit either).
    out.update(written_people(plan))
    return out


def written_people(plan: Plan) -> dict[str, Any]:
    """The assignee and reporter the plan writes: ``{id}`` of the user here, or ``None``."""
    out: dict[str, Any] = {}
    for target in getattr(plan, "targets", ()):
        if not target.keep:
            out[target.role] = {"id": target.user_id} if target.user_id else None
    return out


def _catalog(
    connection: ConnectionModel,
    fields: IssueFields,
    create_missing: frozenset[str],
    notes: list[str],
    *,
    deps: SyncDeps,
) -> IssueFields:
    """``fields`` naming only components and versions the project has (created first when
    the rules allow it; the others left out, each with a note)."""
    project = connection.incoming_project
    known: dict[str, dict[str, str] | None] = {}

    def listing(catalog: str, *, refresh: bool = False) -> dict[str, str] | None:
        if refresh or catalog not in known:
            lister = getattr(deps.tracker, f"list_{catalog}", None)
            known[catalog] = (
                None if lister is None else {x.name.lower(): x.name for x in lister(project)}
            )
        return known[catalog]

    changes: dict[str, tuple[str, ...]] = {}
    for attr, name, catalog, shown in CATALOG:
        names: tuple[str, ...] | None = getattr(fields, attr)
        if not names:
            continue
        have = listing(catalog)
        if have is None:  # a tracker without catalogs: Jira decides
            continue
        kept: list[str] = []
        for wanted in names:
            found = have.get(wanted.lower())
            if found is None and name in create_missing:
                found = _create(catalog, wanted, shown, project, notes, listing, deps=deps)
            elif found is None:
                notes.append(
                    f"{shown} '{wanted}' is not in project {project}: left out (the incoming "
                    f"rules may create it: create_missing {name})."
                )
            if found is not None and found not in kept:
                kept.append(found)
        if tuple(kept) != names:
            changes[attr] = tuple(kept)
    return msgspec.structs.replace(fields, **changes) if changes else fields


def _create(
    catalog: str,
    name: str,
    shown: str,
    project: str,
    notes: list[str],
    listing: Callable[..., dict[str, str] | None],
    *,
    deps: SyncDeps,
) -> str | None:
    """Create ``name`` in the project's components or versions; its name, or ``None``
    (refused: a note). A retry finds what an earlier attempt created (listed first)."""
    create = getattr(
        deps.tracker, "create_component" if catalog == "components" else "create_version"
    )
    try:
        made = create(project, name)
    except (RateLimited, Unavailable):
        raise
    except TrackerError as exc:
        again = listing(catalog, refresh=True) or {}  # made meanwhile (another apply)?
        if name.lower() in again:
            return again[name.lower()]
        notes.append(
            f"{shown} '{name}' could not be created in project {project} ({exc.message}): left out."
        )
        return None
    have = listing(catalog)
    if have is not None:
        have[made.name.lower()] = made.name
    notes.append(f"{shown} '{made.name}' was created in project {project}.")
    return str(made.name)


def apply_people(
    connection: ConnectionModel, twin: TwinModel, plan: Plan, *, deps: SyncDeps
) -> dict[str, Any]:
    """Assignee and reporter written (none fails the sync); what landed instead of what
    :func:`written` said, when the tracker refused a user and the fallback took its place
    (in replica form: the registers remember it, so it is not read back as an edit here).

    What was left out or fell back is written to the twin's history as a note."""
    notes = list(getattr(plan, "notes", ()))
    targets: tuple[Target, ...] = getattr(plan, "targets", ())
    if plan.people and not targets:  # a plan that did not go through prepare
        mapper = _people_mapper(connection, deps=deps)
        targets = tuple(mapper.target(op) for op in plan.people)
        notes.extend(t.note for t in targets if t.note)
    writes = [t for t in targets if not t.keep]
    instead: dict[str, Any] = {}
    if writes:
        current = deps.tracker.get_issue(twin.local_key)
        mapper = _people_mapper(connection, deps=deps)
        for target in writes:
            now = getattr(current, target.role)
            if (now.id if now is not None else None) == target.user_id:
                continue  # already so (a retry, or nothing changed): nothing to write
            said, landed = _write(twin.local_key, target, mapper, deps=deps)
            notes.extend(said)
            if landed is UNCHANGED:  # refused, and nobody else to write: as it was
                landed = now.id if now is not None else None
            if landed != target.user_id:
                instead[target.role] = {"id": landed} if landed else None
    if notes:
        record_transaction(
            connection.id,
            twin.local_key,
            direction="incoming",
            changes=[],
            outcome=NOTE + " ".join(notes),
        )
    return instead


UNCHANGED = "\0unchanged"  # _write wrote nobody: the issue shows who it showed


def _write(
    key: str, target: Target, mapper: PeopleMapper, *, deps: SyncDeps
) -> tuple[list[str], str | None]:
    """Set the assignee or reporter; a user the tracker refuses (not assignable, gone)
    falls back like an unmapped person. Notes of what happened instead, and who landed."""
    try:
        _set(key, target.role, target.user_id, deps=deps)
        return [], target.user_id
    except (RateLimited, Unavailable):
        raise
    except TrackerError as exc:
        refused = f"(user {target.user_id or 'nobody'}) was refused here ({exc.message})"
    instead = mapper.fallback(target.role, target.person, refused)
    if instead.keep or instead.user_id == target.user_id:
        return [instead.note or ""], UNCHANGED
    try:
        _set(key, instead.role, instead.user_id, deps=deps)
        return [instead.note or ""], instead.user_id
    except (RateLimited, Unavailable):
        raise
    except TrackerError as exc:  # the fallback user refused too: nobody
        _set(key, instead.role, None, deps=deps)
        note = f"{instead.note} The fallback user was refused too ({exc.message}): left unassigned."
        return [note], None


def _set(key: str, role: str, user_id: str | None, *, deps: SyncDeps) -> None:
    if role == "assignee":
        deps.tracker.set_assignee(key, user_id)  # type: ignore[attr-defined]
    elif user_id is not None:
        deps.tracker.set_reporter(key, user_id)  # type: ignore[attr-defined]
