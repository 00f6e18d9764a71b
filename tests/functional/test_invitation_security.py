"""Issue 13, items 1-3: the security review's reproductions, kept as tests.

Each test replays an attack over the API between nodes (the cluster factory: A and B
public, P private, one moto) and checks it is refused with nothing stored on either side.
"""

from __future__ import annotations

import json
import secrets

import msgspec
import pytest

from chalicelib.connections import invitation as codec
from chalicelib.connections import keys
from tests.factories.cluster import A_URL, B_URL, three_nodes

ATTACKER_URL = "https://attacker.example"


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def initiate(cluster, **overrides):
    body = {
        "destination_url": None,
        "mode": "basic",
        "local_short_name": "A",
        "remote_short_name": "B",
        "name": "A_to_B",
        "incoming_project": "SUP",
    }
    body.update(overrides)
    answer = cluster.admin("node-a", "POST", "/api/v1/connections", body)
    assert answer.status == 201, answer.body
    return answer.body


def accept(cluster, code, node="node-b", project="TEST"):
    return cluster.admin(
        node,
        "POST",
        "/api/v1/invitations/accept",
        {"invitation_code": code, "incoming_project": project},
    )


def stored(cluster, node):
    from chalicelib.store.models import ConnectionModel, InvitationModel

    with cluster.active(cluster[node]):
        return (
            sorted(
                (c.id, c.status, c.remote_node_id, c.remote_url, c.mode)
                for c in ConnectionModel.scan()
            ),
            sorted((i.id, i.status, i.accepted_by) for i in InvitationModel.scan()),
        )


def snapshot(cluster):
    return {n: stored(cluster, n) for n in ("node-a", "node-b", "node-p")}


def handshake_as(cluster, code, *, node_id, url, name="Mallory", short_name="B"):
    """What a holder of ``code`` can post to the initiator: a proof computed from the code."""
    inv = codec.decode(code)
    key = keys.derive_connection_key(inv.secret, inv.connection_id)
    body = {
        "protocol": 1,
        "invitation_id": inv.invitation_id,
        "connection_id": inv.connection_id,
        "node_id": node_id,
        "name": name,
        "url": url,
        "short_name": short_name,
        "proof": keys.handshake_proof(key, inv.invitation_id, inv.connection_id, node_id),
    }
    return cluster.raw(
        "node-a",
        "POST",
        "/node/v1/handshake",
        headers={"Content-Type": "application/json"},
        body=json.dumps(body).encode(),
    )


# --- item 1: a code for one destination cannot be taken over ------------------------------


def test_a_code_for_a_checked_destination_cannot_be_taken_over_with_another_url(cluster):
    """Review item 1: the destination's id with the attacker's URL, proof from the code."""
    created = initiate(cluster, destination_url=B_URL)
    code = created["invitation_code"]
    before = snapshot(cluster)
    answer = handshake_as(cluster, code, node_id="node-b", url=ATTACKER_URL)
    assert (answer.status, answer.error) == (403, "invitation_for_another_node"), answer.body
    message = answer.body["error"]["message"]
    assert B_URL in message and ATTACKER_URL in message
    assert snapshot(cluster) == before
    # the same with no URL at all (claiming to be private)
    answer = handshake_as(cluster, code, node_id="node-b", url=None)
    assert (answer.status, answer.error) == (403, "invitation_for_another_node")
    assert snapshot(cluster) == before
    # the real destination still accepts, and A calls it (not the attacker) afterwards
    accepted = accept(cluster, code)
    assert accepted.status == 201, accepted.body
    a_end = cluster.admin("node-a", "GET", f"/api/v1/connections/{created['connection']['id']}")
    assert a_end.body["remote"] == {"node_id": "node-b", "url": B_URL, "public": True}


def test_the_destination_url_is_compared_by_identity_not_spelling(cluster):
    """An honest destination whose URL is spelled differently (case, port, slash) is fine."""
    created = initiate(cluster, destination_url=B_URL)
    spelled = "HTTPS://B.twinsync.test:443/"
    answer = handshake_as(cluster, created["invitation_code"], node_id="node-b", url=spelled)
    assert answer.status == 200, answer.body


def test_a_replayed_handshake_with_another_url_is_refused(cluster):
    """After the destination accepted, the code's holder cannot redirect the end either."""
    created = initiate(cluster, destination_url=B_URL)
    code = created["invitation_code"]
    assert accept(cluster, code).status == 201
    before = snapshot(cluster)
    answer = handshake_as(cluster, code, node_id="node-b", url=ATTACKER_URL)
    assert (answer.status, answer.error) == (409, "invitation_used")
    assert snapshot(cluster) == before


def test_without_a_destination_the_acceptors_url_is_learnt(cluster):
    """Without a destination ("I don't have a URL") the first valid handshake names the acceptor."""
    created = initiate(cluster)
    answer = handshake_as(cluster, created["invitation_code"], node_id="node-b", url=B_URL)
    assert answer.status == 200, answer.body
    a_end = cluster.admin("node-a", "GET", f"/api/v1/connections/{created['connection']['id']}")
    assert a_end.body["remote"] == {"node_id": "node-b", "url": B_URL, "public": True}
    assert A_URL != B_URL


# --- item 2: the code's terms are authenticated --------------------------------------------


def altered(code, **changes):
    """What a courier can do: re-encode the code with other terms and a fresh checksum."""
    return codec.encode(msgspec.structs.replace(codec.decode(code), **changes))


def test_a_code_re_encoded_with_other_terms_is_refused_and_nothing_is_stored(cluster):
    """Review item 2: mode basic→script and a new name, checksum recomputed: B got 201."""
    created = initiate(cluster, mode="basic")
    code = created["invitation_code"]
    before = snapshot(cluster)
    for changes in (
        {"mode": "script", "name": "Courier's choice"},
        {"remote_short_name": "Mallory"},
        {"local_short_name": "NotA"},
        {"description": "changed on the way"},
    ):
        answer = accept(cluster, altered(code, **changes))
        assert (answer.status, answer.error) == (400, "invitation_altered"), (changes, answer.body)
        assert "Node A" in answer.body["error"]["message"]
        assert snapshot(cluster) == before
    # the code as issued still works, with the terms A issued on both ends
    accepted = accept(cluster, code)
    assert accepted.status == 201, accepted.body
    assert (accepted.body["connection"]["mode"], accepted.body["connection"]["name"]) == (
        "basic",
        "A_to_B",
    )


def test_an_acceptor_short_name_other_than_the_codes_is_refused_by_the_initiator(cluster):
    """An acceptor that sends no terms proof (an older node) is still held to the short name."""
    code = initiate(cluster)["invitation_code"]
    before = snapshot(cluster)
    answer = handshake_as(cluster, code, node_id="node-b", url=B_URL, short_name="Mallory")
    assert (answer.status, answer.error) == (400, "invitation_altered"), answer.body
    assert snapshot(cluster) == before


def test_a_code_issued_before_terms_were_recorded_is_checked_by_the_acceptor(cluster):
    """A code in flight from before the fix (A keeps no terms proof): B checks A's answer."""
    from chalicelib.store.models import InvitationModel

    created = initiate(cluster, mode="basic")
    with cluster.active(cluster["node-a"]):
        for record in InvitationModel.scan():
            record.terms_proof = None
            record.save()
    answer = accept(cluster, altered(created["invitation_code"], mode="script"))
    assert (answer.status, answer.error) == (400, "invitation_altered"), answer.body
    assert stored(cluster, "node-b") == ([], [])
    a_end = cluster.admin("node-a", "GET", f"/api/v1/connections/{created['connection']['id']}")
    assert a_end.body["status"] == "error"  # B told A; A's admin sees why
    assert "altered" in a_end.body["status_reason"]


def test_a_code_in_flight_from_before_the_fix_is_still_accepted(cluster):
    from chalicelib.store.models import InvitationModel

    created = initiate(cluster, mode="script")
    with cluster.active(cluster["node-a"]):
        for record in InvitationModel.scan():
            record.terms_proof = None
            record.save()
    accepted = accept(cluster, created["invitation_code"])
    assert accepted.status == 201, accepted.body
    assert accepted.body["connection"]["mode"] == "script"


# --- item 3a: an initiator's refusal is shown as the other node's ----------------------------


@pytest.mark.contract_exempt(
    "POST", "/node/v1/handshake", 401, reason="a refusal injected into A's handshake"
)
def test_the_initiators_refusal_is_not_relayed_as_the_acceptors_own(cluster, monkeypatch):
    """Review item 3: A's 401 invalid_token reached B's admin as B's own invalid_token."""
    from chalicelib.api import node_connections
    from chalicelib.errors import Unauthorized

    def refuse(*args, **kwargs):
        raise Unauthorized("The token is not valid for this connection.", code="invalid_token")

    code = initiate(cluster)["invitation_code"]
    monkeypatch.setattr(node_connections, "record_handshake", refuse)
    before = snapshot(cluster)
    answer = accept(cluster, code)
    assert (answer.status, answer.error) == (422, "remote_refused"), answer.body
    message = answer.body["error"]["message"]
    assert "Node A" in message and A_URL in message
    assert "invalid_token" in message and '"The token is not valid' in message
    assert answer.body["error"]["field"] == "invitation_code"
    assert snapshot(cluster) == before


def test_a_code_with_another_secret_is_refused_by_the_initiator_as_its_own(cluster):
    """A's invalid_proof (the secret was altered) is shown as A's, not B's, refusal."""
    code = initiate(cluster)["invitation_code"]
    before = snapshot(cluster)
    answer = accept(cluster, altered(code, secret=bytes(32)))
    assert (answer.status, answer.error) == (422, "remote_refused"), answer.body
    assert "invalid_proof" in answer.body["error"]["message"]
    assert snapshot(cluster) == before


def test_documented_invitation_refusals_keep_their_code_and_name_the_initiator(cluster):
    created = initiate(cluster)
    cluster.admin("node-a", "DELETE", f"/api/v1/connections/{created['connection']['id']}")
    answer = accept(cluster, created["invitation_code"])
    assert (answer.status, answer.error) == (404, "invitation_unknown")
    assert answer.body["error"]["message"].startswith(f"The initiating node Node A ({A_URL})")


# --- item 3b: the node API checks the token before saying anything about a connection ------


def node_status(cluster, cid, token):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return cluster.raw("node-a", "GET", f"/node/v1/connections/{cid}/status", headers=headers)


def forged(cid, key=None):
    from chalicelib.connections import tokens

    return tokens.issue_token(
        key or bytes(range(32)), issuer="node-b", audience="node-a", connection_id=cid
    )


def key_of(cluster, cid):
    from chalicelib.connections.store import open_key
    from chalicelib.store.models import ConnectionModel

    with cluster.active(cluster["node-a"]):
        return open_key(ConnectionModel.get(cid))


def test_unknown_pending_and_deleted_connections_all_answer_401_without_a_valid_token(cluster):
    """Review item 3: the answers told unknown, pending and deleted ids apart to anyone."""
    pending = initiate(cluster, name="pending")["connection"]["id"]
    deleted_body = initiate(cluster, name="deleted")
    deleted = deleted_body["connection"]["id"]
    assert accept(cluster, deleted_body["invitation_code"]).status == 201
    deleted_key = key_of(cluster, deleted)
    pending_key = key_of(cluster, pending)
    cluster.admin("node-a", "DELETE", f"/api/v1/connections/{deleted}")
    unknown = "0b5e1c9e-0000-4000-8000-000000000000"
    answers = {}
    for cid in (unknown, pending, deleted):
        for token in ("garbage", forged(cid)):
            answer = node_status(cluster, cid, token)
            answers.setdefault(cid, set()).add((answer.status, answer.error, str(answer.body)))
    assert {a[:2] for found in answers.values() for a in found} == {(401, "invalid_token")}
    # and the very same answers: nothing tells the three apart
    assert answers[unknown] == answers[pending] == answers[deleted]
    # the other end, with the connection's key, still learns what it needs
    gone = node_status(cluster, deleted, forged(deleted, deleted_key))
    assert (gone.status, gone.error) == (404, "connection_deleted")
    waiting = node_status(cluster, pending, forged(pending, pending_key))
    assert (waiting.status, waiting.error) == (403, "connection_pending")


# --- item 3c: the admin token carries at least 32 bytes of entropy ------------------------


def settings_with_admin_token(token):
    from chalicelib.config import _RESOURCE_VARS, load_settings
    from tests.conftest import node_env

    env = {**node_env(TWINSYNC_ADMIN_TOKEN=token)}
    env.update({var: f"unused-{attr}" for attr, var in _RESOURCE_VARS.items()})
    return load_settings(env)


@pytest.mark.parametrize(
    "token",
    [
        "x",  # the review's 1-character token
        "test-admin-token-0123456789",
        "a" * 100,  # long, but one character
        "0123456789abcdef" * 3,  # 48 hex digits: 192 bits
        "QRvYmUthjAPxnef5xSLC2Rn0zjKqmAFH",  # token_urlsafe(24), 32 characters: 192 bits
    ],
)
def test_a_weak_admin_token_stops_start_up_naming_the_variable(token):
    from chalicelib.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        settings_with_admin_token(token)
    assert "TWINSYNC_ADMIN_TOKEN" in str(caught.value)
    assert "32 bytes" in str(caught.value)
    if len(token) > 8:
        assert token not in str(caught.value)  # the secret is not echoed


@pytest.mark.parametrize(
    "make",
    [secrets.token_urlsafe, secrets.token_hex, lambda n: secrets.token_hex(n).upper()],
    ids=["token_urlsafe", "token_hex", "token_hex_upper"],
)
def test_a_random_32_byte_admin_token_is_accepted(make):
    for _ in range(50):
        assert settings_with_admin_token(make(32)).admin_token_sha256
