"""The console's session split between the cookie and the node (pure: no table, no HTTP)."""

from __future__ import annotations

import hashlib

import pytest

from chalicelib.console import session as sessions

TOKEN = "the-admin-token-of-this-node"
HASH = hashlib.sha256(TOKEN.encode()).hexdigest()


def joined(started: sessions.Started, cookie: str | None = None, **changes):
    given = {
        "csrf": started.csrf,
        "pad": started.pad,
        "expires": started.expires,
        "admin_token_sha256": HASH,
        "now": 1001,
    }
    return sessions.join(cookie or started.cookie, **{**given, **changes})


def test_the_two_halves_join_to_the_token_and_neither_holds_it():
    started = sessions.start(TOKEN, now=1000)
    session = joined(started)
    assert session is not None
    assert (session.token, session.csrf, session.record) == (TOKEN, started.csrf, started.record)
    assert session.expires == 1000 + sessions.SESSION_SECONDS
    assert TOKEN.encode() not in started.pad
    assert TOKEN not in started.cookie
    assert sessions.record_of(started.cookie) == started.record
    assert started.cookie.partition(".")[0] not in started.record
    assert TOKEN not in repr(started) + repr(session)
    assert started.csrf not in repr(started) + repr(session)


def test_each_session_has_its_own_id_pad_and_csrf_value():
    one, two = sessions.start(TOKEN), sessions.start(TOKEN)
    assert one.record != two.record
    assert one.pad != two.pad
    assert one.csrf != two.csrf
    assert joined(one, two.cookie, pad=one.pad) is None  # another session's cookie


def test_an_expired_session_or_a_changed_admin_token_opens_nothing():
    started = sessions.start(TOKEN, now=1000)
    assert joined(started, now=started.expires) is None
    other = hashlib.sha256(b"a new admin token").hexdigest()
    assert joined(started, admin_token_sha256=other) is None


@pytest.mark.parametrize(
    "cookie",
    [
        "",
        "garbage",
        "short.AAAA",
        "x" * 42 + ".AAAA",
        "x" * 44,
        "é" * 43 + ".AAAA",
        "a" * 5000,
    ],
)
def test_a_cookie_that_is_no_session_cookie_names_no_record(cookie):
    assert sessions.record_of(cookie) is None


def test_an_altered_half_opens_nothing():
    started = sessions.start(TOKEN, now=1000)
    session_id, _, masked = started.cookie.partition(".")
    flipped = masked[:-2] + ("AA" if masked[-2:] != "AA" else "BB")
    assert joined(started, f"{session_id}.{flipped}") is None
    assert joined(started, f"{session_id}.{masked}AAAA") is None  # another length
    assert joined(started, f"{session_id}.é{masked}") is None
    assert joined(started, pad=bytes(len(started.pad))) is None


@pytest.mark.parametrize("token", ["", "x" * (sessions.MAX_TOKEN_BYTES + 1)])
def test_a_session_holds_a_token_of_sensible_size_only(token):
    with pytest.raises(ValueError):
        sessions.start(token)
