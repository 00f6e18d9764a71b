"""Connection key derivation and the handshake proof."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chalicelib.connections import keys

SECRET = bytes(range(32))


def test_new_secrets_are_32_fresh_bytes():
    first, second = keys.new_secret(), keys.new_secret()
    assert len(first) == 32
    assert first != second


def test_only_a_digest_of_the_secret_is_kept():
    assert keys.secret_digest(SECRET) == hashlib.sha256(SECRET).hexdigest()


def test_connection_key_is_hkdf_sha256_with_the_connection_id_as_info():
    expected = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"conn-1").derive(SECRET)
    assert keys.derive_connection_key(SECRET, "conn-1") == expected


def test_connection_key_is_stable_and_bound_to_the_connection():
    a = keys.derive_connection_key(SECRET, "conn-1")
    assert a == keys.derive_connection_key(SECRET, "conn-1")
    assert a != keys.derive_connection_key(SECRET, "conn-2")
    assert a != SECRET


@pytest.mark.parametrize(("secret", "cid"), [(b"short", "c"), (SECRET, "")])
def test_connection_key_refuses_bad_input(secret, cid):
    with pytest.raises(ValueError):
        keys.derive_connection_key(secret, cid)


def test_proof_binds_invitation_connection_and_acceptor():
    key = keys.derive_connection_key(SECRET, "c1")
    proof = keys.handshake_proof(key, "inv", "c1", "node-b")
    assert keys.proof_matches(key, proof, "inv", "c1", "node-b")
    assert not keys.proof_matches(key, proof, "inv", "c1", "node-c")
    assert not keys.proof_matches(key, proof, "inv2", "c1", "node-b")
    assert not keys.proof_matches(key, proof, "inv", "c2", "node-b")
    other = keys.derive_connection_key(keys.new_secret(), "c1")
    assert not keys.proof_matches(other, proof, "inv", "c1", "node-b")


def test_proof_does_not_reveal_the_secret_or_key():
    key = keys.derive_connection_key(SECRET, "c1")
    proof = keys.handshake_proof(key, "inv", "c1", "node-b")
    assert SECRET.hex() not in proof
    assert key.hex() not in proof


def test_key_storage_form_round_trips_without_padding():
    key = keys.derive_connection_key(SECRET, "c1")
    text = keys.encode_key(key)
    assert "=" not in text
    assert keys.decode_key(text) == key
