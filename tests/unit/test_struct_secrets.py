"""Value types holding a secret never show it in a repr (no I/O).

They are msgspec Structs (cold start, issue 19), which have no per-field ``repr=False``:
each overrides ``__repr__`` (:func:`chalicelib.structs.repr_without`)."""

from __future__ import annotations

from types import SimpleNamespace

from chalice import Chalice

from chalicelib.api.routing import ApiRequest
from chalicelib.connections.store import Tombstone
from chalicelib.console import session as sessions
from chalicelib.console import web
from chalicelib.console.client import AdminClient
from chalicelib.structs import repr_without, values_without

TOKEN = "tok-" + "9" * 40
CSRF = "csrf-" + "8" * 40
KEY = b"\x01" * 32


def test_the_tombstone_key_is_hidden():
    shown = repr(Tombstone(reason="deleted by the admin", key=KEY))
    assert shown == "Tombstone(reason='deleted by the admin', key=***)"


def test_a_console_session_hides_its_token_and_csrf_value():
    shown = repr(sessions.Session(token=TOKEN, csrf=CSRF, expires=1, record="r"))
    assert shown == "Session(token=***, csrf=***, expires=1, record='r')"


def test_a_new_console_session_hides_both_halves_of_the_token():
    started = sessions.start(TOKEN, now=1)
    shown = repr(started)
    assert started.cookie not in shown and repr(started.pad) not in shown
    assert started.csrf not in shown and started.record in shown


def test_the_nodes_half_of_a_session_hides_its_pad_and_csrf_value():
    from chalicelib.store.console_sessions import StoredSession

    shown = repr(StoredSession(csrf=CSRF, pad=KEY, expires=1))
    assert shown == "StoredSession(csrf=***, pad=***, expires=1)"


def test_the_admin_client_hides_its_token():
    shown = repr(AdminClient(Chalice("t"), TOKEN))
    assert TOKEN not in shown and "token=***" in shown and "request_id='console'" in shown


def test_a_console_page_hides_the_session():
    session = sessions.Session(token=TOKEN, csrf=CSRF, expires=1, record="r")
    page = web.Page("GET", "", {}, {}, {}, {}, True, "r-1", session=session)
    shown = repr(page)
    assert TOKEN not in shown and CSRF not in shown
    assert "session=***" in shown and "request_id='r-1'" in shown


def test_an_api_request_shows_its_raw_body_once():
    request = ApiRequest(
        "POST",
        "/api/v1/x",
        {},
        {},
        b'{"a": 1}',
        SimpleNamespace(),
        _json={"a": 1},  # type: ignore[arg-type]
    )
    assert "_json" not in repr(request) and "raw_body=b'{\"a\": 1}'" in repr(request)
    assert request == ApiRequest(
        "POST", "/api/v1/x", {}, {}, b'{"a": 1}', request.root, _json={"a": 1}
    )


def test_the_helpers_name_fields_in_order():
    session = sessions.Session(token=TOKEN, csrf=CSRF, expires=1, record="r")
    assert (
        repr_without(session, omit=("csrf", "record"), secret=("token",))
        == "Session(token=***, expires=1)"
    )
    assert values_without(session, ("token",)) == (CSRF, 1, "r")
