"""Issue 18: people across a connection. A person of the other side (``{id, name, email}``)
becomes a user of this tracker through the connection's ``user_map`` (the other side's
id → ours), else the user with the same e-mail address (where the other tracker shows it),
else the connection's ``user_fallback`` (a user, or unassigned; a reporter stays as it is).
An unmapped person never fails a sync: the twin's history names them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from chalicelib.rules.plan import PersonOp
from chalicelib.store.models import ConnectionModel
from chalicelib.trackers.base import RateLimited, TrackerError, Unavailable

UNASSIGNED = "unassigned"
KEEP = "keep"  # a reporter nobody maps: left as it is


class Target(msgspec.Struct, frozen=True):
    """Who a :class:`PersonOp` becomes here: ``user_id`` (``None``: nobody), or nothing
    written at all (``keep``); ``note`` says why when the person was not mapped."""

    role: str
    user_id: str | None
    keep: bool = False
    note: str | None = None
    person: Mapping[str, Any] | None = None


def describe(person: Mapping[str, Any] | None) -> str:
    if person is None:
        return "nobody"
    name = str(person.get("name") or person.get("id"))
    shown = f"{name} ({person['id']})" if name != person.get("id") else name
    return f"{shown} <{person['email']}>" if person.get("email") else shown


def map_table(connection: ConnectionModel) -> dict[str, str]:
    """``user_map`` as other side's id → this tracker's id."""
    out: dict[str, str] = {}
    for entry in connection.user_map or ():
        if isinstance(entry, Mapping) and entry.get("remote") and entry.get("local"):
            out[str(entry["remote"])] = str(entry["local"])
    return out


def fallback_user(connection: ConnectionModel) -> str | None:
    """The fallback user's id; ``None``: unassigned (the default)."""
    value = connection.user_fallback
    if isinstance(value, Mapping) and value.get("user"):
        return str(value["user"])
    return None


class PeopleMapper:
    """Maps the people of one apply (e-mail lookups cached for the call)."""

    def __init__(self, connection: ConnectionModel, tracker: Any) -> None:
        self.connection = connection
        self.tracker = tracker
        self.table = map_table(connection)
        self.lowered = {k.lower(): v for k, v in self.table.items()}
        self.emails: dict[str, str | None] = {}
        self.users: dict[str, str | None] = {}

    def target(self, op: PersonOp) -> Target:
        person = op.person
        if person is None:
            if op.role == "reporter":  # a reporter cannot be nobody: left as it is
                return Target(op.role, None, keep=True)
            return Target(op.role, None)
        local = self.in_table(person)
        if local:
            here = self.here(local)
            if here:
                return Target(op.role, here, person=person)
            return self.fallback(
                op.role, person, f"is mapped to {local}, which is not a user of this tracker"
            )
        email = person.get("email")
        if isinstance(email, str) and email:
            found = self.by_email(email)
            if found:
                return Target(op.role, found, person=person)
        why = (
            "is not in the user map, and no user here has that e-mail address"
            if isinstance(email, str) and email
            else "is not in the user map, and the other tracker does not show an e-mail"
        )
        return self.fallback(op.role, person, why)

    def fallback(self, role: str, person: Mapping[str, Any] | None, why: str) -> Target:
        """Who takes ``person``'s place, and the note that says so."""
        shown = describe(person)
        if role == "reporter":
            note = f"Reporter {shown} {why}: the reporter was left as it is."
            return Target(role, None, keep=True, note=note, person=person)
        user = fallback_user(self.connection)
        user = self.here(user) if user else None
        if user:
            note = f"Assignee {shown} {why}: assigned to the fallback user {user}."
            return Target(role, user, note=note, person=person)
        return Target(role, None, note=f"Assignee {shown} {why}: left unassigned.", person=person)

    def in_table(self, person: Mapping[str, Any]) -> str | None:
        """This tracker's user for ``person`` in the user map: by the other side's id
        (accountId, Server's key) or, from Server, by its username."""
        for ref in (person.get("id"), person.get("username")):
            if isinstance(ref, str) and ref:
                local = self.table.get(ref) or self.lowered.get(ref.lower())
                if local:
                    return local
        return None

    def here(self, ref: str) -> str | None:
        """``ref`` (an id, or Server's username, as an admin wrote it) as this tracker's
        ``User.id``, the form the issue shows (so our write is not read back as an edit);
        ``None`` when no such user exists here."""
        if ref in self.users:
            return self.users[ref]
        getter = getattr(self.tracker, "get_user", None)
        found: str | None = ref
        if getter is not None:
            try:
                found = getter(ref).id
            except (RateLimited, Unavailable):
                raise
            except TrackerError:
                found = None
        self.users[ref] = found
        return found

    def by_email(self, email: str) -> str | None:
        low = email.strip().lower()
        if low in self.emails:
            return self.emails[low]
        finder = getattr(self.tracker, "find_user_by_email", None)
        found: str | None = None
        if finder is not None:
            try:
                user = finder(email)
            except (RateLimited, Unavailable):
                raise  # the queue retries the apply later
            except TrackerError:
                user = None  # a lookup refused (no permission to browse users): unmapped
            found = user.id if user is not None else None
        self.emails[low] = found
        return found
