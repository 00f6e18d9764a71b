"""Issue 18: who a person of the other side becomes here (``people.PeopleMapper``): the
user map first, then the e-mail address, then the fallback; a note whenever the person was
not mapped; e-mail lookups once per address; a lookup the tracker refuses is no failure."""

from __future__ import annotations

import pytest

from chalicelib.rules.plan import PersonOp
from chalicelib.store.models import ConnectionModel
from chalicelib.sync.people import PeopleMapper, Target
from chalicelib.trackers.base import PermissionDenied, Unavailable, User


class Directory:
    def __init__(self, *users: User, error: Exception | None = None):
        self.users = users
        self.error = error
        self.asked: list[str] = []

    def find_user_by_email(self, email: str) -> User | None:
        self.asked.append(email)
        if self.error is not None:
            raise self.error
        return next((u for u in self.users if u.email == email.lower()), None)


def end(**values) -> ConnectionModel:
    return ConnectionModel(id="c1", name="c", mode="script", **values)


ANNA = {"id": "acc-anna", "name": "Anna", "email": "Anna@acme.test"}
ZED = {"id": "acc-zed", "name": "Zed", "email": None}


def test_the_user_map_comes_first_then_the_e_mail_address():
    directory = Directory(User("u-anna", "Anna", "anna@acme.test"))
    mapper = PeopleMapper(end(user_map=[{"remote": "acc-anna", "local": "u-a2"}]), directory)
    assert mapper.target(PersonOp("assignee", ANNA)) == Target("assignee", "u-a2", person=ANNA)
    assert directory.asked == []
    plain = PeopleMapper(end(), directory)
    assert plain.target(PersonOp("reporter", ANNA)).user_id == "u-anna"
    assert plain.target(PersonOp("assignee", ANNA)).user_id == "u-anna"
    assert directory.asked == ["Anna@acme.test"]  # once per address


def test_an_unmapped_person_falls_back_with_a_note():
    unassigned = PeopleMapper(end(), Directory()).target(PersonOp("assignee", ZED))
    assert (unassigned.user_id, unassigned.keep) == (None, False)
    assert "Assignee Zed (acc-zed) is not in the user map" in (unassigned.note or "")
    assert "left unassigned" in (unassigned.note or "")
    helpdesk = PeopleMapper(end(user_fallback={"user": "u-help"}), Directory())
    assert helpdesk.target(PersonOp("assignee", ZED)).user_id == "u-help"
    reporter = helpdesk.target(PersonOp("reporter", ZED))
    assert reporter.keep and "left as it is" in (reporter.note or "")


def test_nobody_unassigns_and_leaves_a_reporter_as_it_is():
    mapper = PeopleMapper(end(), Directory())
    assert mapper.target(PersonOp("assignee", None)) == Target("assignee", None)
    assert mapper.target(PersonOp("reporter", None)).keep


def test_a_refused_lookup_is_unmapped_and_an_outage_is_retried():
    refused = PeopleMapper(end(), Directory(error=PermissionDenied("no Browse users")))
    assert refused.target(PersonOp("assignee", ANNA)).user_id is None
    down = PeopleMapper(end(), Directory(error=Unavailable("503")))
    with pytest.raises(Unavailable):
        down.target(PersonOp("assignee", ANNA))
