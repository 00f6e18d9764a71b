"""The invitation code: format, round trip, and one clear refusal per kind of damage."""

from __future__ import annotations

import base64
import json

import pytest

from chalicelib.connections import invitation as codec
from chalicelib.errors import BadRequest, Gone

NOW = 1_800_000_000


def make(**overrides):
    values = {
        "invitation_id": "inv-1",
        "connection_id": "conn-1",
        "initiator_node_id": "node-a",
        "initiator_name": "Node A",
        "initiator_url": "https://a.twinsync.test",
        "mode": "basic",
        "name": "A_to_B",
        "description": "Support to dev",
        "local_short_name": "A",
        "remote_short_name": "B",
        "expires_at": NOW + 72 * 3600,
        "secret": bytes(range(32)),
    }
    values.update(overrides)
    return codec.Invitation(**values)


def payload_of(code):
    body = code[len("TS1.") :].rpartition(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def recode(document):
    raw = json.dumps(document).encode()
    payload = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return f"TS1.{payload}.{codec.checksum(payload)}"


def test_code_is_one_line_with_prefix_payload_and_checksum():
    code = codec.encode(make())
    assert code.startswith("TS1.")
    assert "\n" not in code and " " not in code
    prefix, payload, checksum = code.split(".")
    assert prefix == "TS1"
    assert len(checksum) == 8
    assert all(c.isalnum() or c in "-_" for c in payload)


def test_payload_holds_what_the_contract_lists():
    doc = payload_of(codec.encode(make()))
    assert doc["protocol"] == 1
    assert doc["invitation_id"] == "inv-1"
    assert doc["connection_id"] == "conn-1"
    assert doc["initiator"] == {
        "node_id": "node-a",
        "name": "Node A",
        "url": "https://a.twinsync.test",
    }
    assert doc["mode"] == "basic"
    assert doc["connection"]["local_short_name"] == "A"
    assert doc["expires_at"] == NOW + 72 * 3600
    assert len(base64.urlsafe_b64decode(doc["secret"] + "==")) == 32


def test_round_trip():
    original = make(description="", name="Ünïcode name")
    assert codec.decode(codec.encode(original), now=NOW) == original


def test_whitespace_from_pasting_is_ignored():
    code = codec.encode(make())
    wrapped = "  " + "\n".join(code[i : i + 40] for i in range(0, len(code), 40)) + "\n"
    assert codec.decode(wrapped, now=NOW).invitation_id == "inv-1"


def test_secret_is_not_in_the_repr():
    decoded = codec.decode(codec.encode(make()), now=NOW)  # its payload holds the secret too
    shown = repr(decoded)
    assert "secret=***" in shown and "payload=***" in shown
    assert repr(bytes(range(32))) not in shown and decoded.payload not in shown
    assert base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=") not in shown
    assert "invitation_id='inv-1'" in shown  # the other fields are shown


def test_equality_ignores_the_payload_it_was_read_from():
    decoded = codec.decode(codec.encode(make()), now=NOW)
    assert decoded.payload and decoded == make() and hash(decoded) == hash(make())
    assert decoded != make(secret=bytes(32))


@pytest.mark.parametrize(
    "damage",
    [
        lambda c: "",
        lambda c: "hello",
        lambda c: c[:10],
        lambda c: c[: len(c) // 2],
        lambda c: c[: c.rindex(".")],
        lambda c: c[:-3],
        lambda c: "TS2." + c[4:],
        lambda c: c.replace("TS1.", ""),
        lambda c: c[:-9] + "!" + c[-8:],
        lambda c: 12345,
        lambda c: None,
        lambda c: "TS1." + "A" * 9000 + ".00000000",
    ],
)
def test_cut_or_foreign_codes_are_invalid(damage):
    with pytest.raises(BadRequest) as caught:
        codec.decode(damage(codec.encode(make())), now=NOW)
    assert caught.value.code == "invalid_invitation_code"
    assert caught.value.field == "invitation_code"


def test_an_altered_payload_fails_the_checksum():
    code = codec.encode(make())
    i = len("TS1.") + 20
    altered = code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1 :]
    with pytest.raises(BadRequest) as caught:
        codec.decode(altered, now=NOW)
    assert caught.value.code == "invitation_checksum_mismatch"


def test_a_mistyped_checksum_is_a_mismatch():
    code = codec.encode(make())
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    with pytest.raises(BadRequest) as caught:
        codec.decode(typo, now=NOW)
    assert caught.value.code == "invitation_checksum_mismatch"


def test_an_expired_code_is_gone():
    code = codec.encode(make(expires_at=NOW - 1))
    with pytest.raises(Gone) as caught:
        codec.decode(code, now=NOW)
    assert caught.value.code == "invitation_expired"
    assert codec.decode(code, now=NOW, check_expiry=False).invitation_id == "inv-1"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(protocol=2),
        lambda d: d.update(mode="groovy"),
        lambda d: d.update(secret="c2hvcnQ"),
        lambda d: d.update(secret="!!"),
        lambda d: d.pop("invitation_id"),
        lambda d: d.update(expires_at="tomorrow"),
        lambda d: d["initiator"].update(url="ftp://a"),
        lambda d: d.update(initiator="node-a"),
        lambda d: d["connection"].update(name=""),
    ],
)
def test_well_formed_codes_with_bad_content_are_invalid(mutate):
    doc = payload_of(codec.encode(make()))
    mutate(doc)
    with pytest.raises(BadRequest) as caught:
        codec.decode(recode(doc), now=NOW)
    assert caught.value.code == "invalid_invitation_code"


def test_payload_that_is_not_an_object_is_invalid():
    with pytest.raises(BadRequest):
        codec.decode(recode([1, 2]), now=NOW)
