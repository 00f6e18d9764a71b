"""Per-connection JWTs: claims, limits, and every way a token is refused."""

from __future__ import annotations

import jwt
import pytest

from chalicelib.connections import tokens
from chalicelib.errors import Forbidden, Unauthorized

KEY = bytes(32 * [7])
OTHER_KEY = bytes(32 * [9])
NOW = 1_800_000_000
NO_TIME = {"verify_exp": False, "verify_iat": False}


def make(**overrides):
    claims = {
        "iss": "node-b",
        "aud": "node-a",
        "cid": "c1",
        "iat": NOW,
        "exp": NOW + 60,
        "jti": "jti-0123456789",
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, KEY, algorithm="HS256")


def verify(token, key=KEY, now=NOW, cid="c1"):
    return tokens.verify_token(
        token, key, audience="node-a", issuer="node-b", connection_id=cid, now=now
    )


def test_issued_token_carries_the_contract_claims():
    token = tokens.issue_token(KEY, issuer="node-b", audience="node-a", connection_id="c1", now=NOW)
    claims = jwt.decode(token, KEY, algorithms=["HS256"], audience="node-a", options=NO_TIME)
    assert claims["iss"] == "node-b"
    assert claims["cid"] == "c1"
    assert claims["iat"] == NOW
    assert 0 < claims["exp"] - NOW <= 300
    assert len(claims["jti"]) >= 16
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_each_token_has_a_unique_jti():
    ids = {
        verify(
            tokens.issue_token(KEY, issuer="node-b", audience="node-a", connection_id="c1", now=NOW)
        ).jti
        for _ in range(50)
    }
    assert len(ids) == 50


def test_a_valid_token_verifies():
    claims = verify(make())
    assert claims.connection_id == "c1"
    assert claims.expires_at == NOW + 60


def test_lifetime_over_five_minutes_cannot_be_issued():
    with pytest.raises(ValueError):
        tokens.issue_token(KEY, issuer="a", audience="b", connection_id="c", lifetime=301)


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (make(exp=NOW - 31, iat=NOW - 90), "token_expired"),
        (make(exp=NOW + 301), "invalid_token"),
        (make(iat=NOW + 120, exp=NOW + 180), "invalid_token"),
        (make(exp=NOW), "invalid_token"),
        (make(aud="node-x"), "invalid_token"),
        (make(iss="node-x"), "invalid_token"),
        (make(jti=None), "invalid_token"),
        (make(jti="short"), "invalid_token"),
        (make(cid=None), "invalid_token"),
        (make(exp=None), "invalid_token"),
        (make(iat=None), "invalid_token"),
        (make(iat="yesterday"), "invalid_token"),
        ("not-a-jwt", "invalid_token"),
        ("", "invalid_token"),
    ],
)
def test_bad_tokens_are_unauthorized_with_a_code(token, code):
    with pytest.raises(Unauthorized) as caught:
        verify(token)
    assert caught.value.code == code


def test_a_token_signed_with_another_key_is_refused():
    claims = jwt.decode(make(), KEY, algorithms=["HS256"], audience="node-a", options=NO_TIME)
    token = jwt.encode(claims, OTHER_KEY, algorithm="HS256")
    with pytest.raises(Unauthorized):
        verify(token)


def test_alg_none_and_other_algorithms_are_refused():
    unsigned = jwt.encode({"iss": "node-b"}, None, algorithm="none")
    with pytest.raises(Unauthorized):
        verify(unsigned)
    hs512 = jwt.encode(
        {
            "iss": "node-b",
            "aud": "node-a",
            "cid": "c1",
            "iat": NOW,
            "exp": NOW + 60,
            "jti": "jti-0123456789",
        },
        KEY + KEY,
        algorithm="HS512",
    )
    with pytest.raises(Unauthorized):
        verify(hs512)


def test_a_token_for_another_connection_is_forbidden():
    with pytest.raises(Forbidden) as caught:
        verify(make(cid="c2"))
    assert caught.value.code == "token_connection_mismatch"


def test_small_clock_skew_is_tolerated():
    assert verify(make(iat=NOW + 20, exp=NOW + 80))
    assert verify(make(), now=NOW + 80)


def test_unverified_connection_id_reads_the_claim_only():
    assert tokens.unverified_connection_id(make(cid="c9")) == "c9"
    assert tokens.unverified_connection_id("garbage") is None


def test_a_token_for_a_body_claims_its_digest_and_binds_that_body_only():
    body = b'{"items": [1]}'
    token = tokens.issue_token(
        KEY, issuer="node-b", audience="node-a", connection_id="c1", now=NOW, body=body
    )
    claims = verify(token)
    assert claims.body_sha256 == tokens.body_digest(body)
    assert len(claims.body_sha256) == 43 and "=" not in claims.body_sha256
    assert tokens.binds_body(claims, body)
    assert not tokens.binds_body(claims, body + b" ")
    assert not tokens.binds_body(claims, b"")


def test_a_token_without_a_body_binds_none():
    claims = verify(
        tokens.issue_token(KEY, issuer="node-b", audience="node-a", connection_id="c1", now=NOW)
    )
    assert claims.body_sha256 is None
    assert not tokens.binds_body(claims, b"")


@pytest.mark.parametrize("digest", ["", "abc", 42, "x" * 44, "+" * 43])
def test_a_malformed_body_claim_is_refused(digest):
    with pytest.raises(Unauthorized) as caught:
        verify(make(bsh=digest))
    assert caught.value.code == "invalid_token"


# --- the standard-library HS256 against PyJWT (tokens.py no longer imports it: cold start) ---


def test_pyjwt_reads_what_issue_token_signs_and_the_reverse():
    token = tokens.issue_token(KEY, issuer="node-b", audience="node-a", connection_id="c1", now=NOW)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    assert jwt.decode(token, KEY, algorithms=["HS256"], audience="node-a", options=NO_TIME)
    assert verify(make()).jti == "jti-0123456789"  # make(): signed by PyJWT


def test_an_audience_list_naming_this_node_verifies_as_with_pyjwt():
    assert verify(make(aud=["node-x", "node-a"])).connection_id == "c1"
    with pytest.raises(Unauthorized):
        verify(make(aud=["node-x"]))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + ".extra",  # four segments
        lambda t: t.rsplit(".", 1)[0],  # no signature
        lambda t: t.rsplit(".", 1)[0] + ".",  # an empty signature
        lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),  # another signature
        lambda t: _swap_payload(t),  # another payload under the same signature
        lambda t: t + "é",  # not base64url
        lambda t: t + "\n",  # a line break after the signature
        lambda t: t.replace(".", "\n.", 1),
        lambda t: t.replace(".", "!.", 1),
    ],
)
def test_a_mangled_token_is_refused(mangle):
    with pytest.raises(Unauthorized) as caught:
        verify(mangle(make()))
    assert caught.value.code == "invalid_token"


def _swap_payload(token):
    header, _, signature = token.split(".")
    other = make(cid="c1", jti="jti-other-0123456").split(".")[1]
    return f"{header}.{other}.{signature}"


def test_a_header_with_a_critical_extension_is_refused():
    token = jwt.encode(
        jwt.decode(make(), KEY, algorithms=["HS256"], audience="node-a", options=NO_TIME),
        KEY,
        algorithm="HS256",
        headers={"crit": ["b64"], "b64": True},
    )
    with pytest.raises(Unauthorized):
        verify(token)


def test_a_deeply_nested_header_is_refused_not_raised():
    header = tokens._b64encode(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(Unauthorized):
        verify(f"{header}.e30.")


def test_a_payload_that_is_not_an_object_is_refused():
    header = tokens._b64encode(b'{"alg":"HS256","typ":"JWT"}')
    body = tokens._b64encode(b'["iss"]')
    signature = tokens._b64encode(tokens._signature(KEY, f"{header}.{body}"))
    with pytest.raises(Unauthorized):
        verify(f"{header}.{body}.{signature}")
