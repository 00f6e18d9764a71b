"""Connection keys at rest: sealed under the node's KMS key and bound to their record.

Issue 13's last item. Everything runs against moto's KMS and DynamoDB through boto3: the
key comes from the template's ``AWS::KMS::Key`` like every other resource, and KMS calls
are counted with a botocore event hook on the node's own client.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.connections import sealing, tokens
from chalicelib.connections.keys import encode_key
from tests.factories.cluster import connect_a_to_b as connect
from tests.factories.cluster import initiate_to_b, key_of, three_nodes
from tests.factories.connections import KEY, saved_connection

MISSING_KEY = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def raw_item(env, table_var, **key):
    """The item as DynamoDB holds it, read past PynamoDB."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    answer = dynamodb.get_item(
        TableName=env[table_var], Key={k: {"S": v} for k, v in key.items()}, ConsistentRead=True
    )
    return answer.get("Item", {})


def kms_open(stored, context):
    """Decrypt a stored value with KMS directly (no cache of ours in the way)."""
    assert stored.startswith("kms1:"), stored
    kms = boto3.client("kms", region_name="us-east-1")
    blob = base64.b64decode(stored[len("kms1:") :])
    return kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"]


def refused_code(stored, context):
    with pytest.raises(ClientError) as refused:
        kms_open(stored, context)
    return refused.value.response["Error"]["Code"]


@pytest.fixture
def kms_calls(node) -> Iterator[list[str]]:
    """Names of the KMS operations the node's own client makes from now on."""
    from chalicelib.root import kms_client

    events = kms_client("us-east-1").meta.events
    calls: list[str] = []

    def record(model, **_):
        calls.append(model.name)

    events.register("before-call.kms", record, unique_id="test-kms-calls")
    try:
        yield calls
    finally:
        events.unregister("before-call.kms", unique_id="test-kms-calls")


def status_call(client, cid, key, issuer="node-z"):
    token = tokens.issue_token(key, issuer=issuer, audience="node-a", connection_id=cid)
    return client.http.get(
        f"/node/v1/connections/{cid}/status", headers={"Authorization": f"Bearer {token}"}
    )


# --- what is stored -----------------------------------------------------------------------


def test_each_end_stores_its_key_sealed_and_only_its_own_record_opens_it(cluster):
    cid = connect(cluster)
    key = key_of(cluster, cid, "node-a")
    assert key is not None and len(key) == 32
    assert key_of(cluster, cid, "node-b") == key  # both ends still agree: tokens verify

    for node in ("node-a", "node-b"):
        item = raw_item(cluster[node].env, "TWINSYNC_TABLE_CONNECTIONS", id=cid)
        stored = item["key"]["S"]
        text = json.dumps(item)
        assert encode_key(key) not in text and key.hex() not in text
        assert base64.b64encode(key).decode() not in text
        assert kms_open(stored, sealing.connection_context(cid)) == key
        # copied into another connection's record, or into a tombstone: KMS refuses it
        assert refused_code(stored, sealing.connection_context("another-id")) == (
            "InvalidCiphertextException"
        )
        assert refused_code(stored, sealing.tombstone_context(cid)) == (
            "InvalidCiphertextException"
        )
        assert refused_code(stored, {}) == "InvalidCiphertextException"


def test_a_ciphertext_copied_into_another_record_does_not_open_even_in_a_warm_container(node):
    from chalicelib.connections.sealing import KeySealingError
    from chalicelib.connections.store import open_key
    from chalicelib.store.models import ConnectionModel

    first = saved_connection("conn-1")
    assert open_key(ConnectionModel.get("conn-1")) == KEY  # opened: now in the cache
    saved_connection("conn-2", key=first.key)  # the same ciphertext, another record

    with pytest.raises(KeySealingError) as refused:
        open_key(ConnectionModel.get("conn-2"))
    assert refused.value.status == 502 and refused.value.code == "key_service_failed"
    assert "InvalidCiphertextException" in refused.value.message


def test_a_deleted_ends_tombstone_keeps_its_key_sealed_for_the_tombstone_alone(cluster):
    from chalicelib.store.namespaces import connection_tomb_key

    cid = connect(cluster)
    key = key_of(cluster, cid)
    end_value = raw_item(cluster["node-a"].env, "TWINSYNC_TABLE_CONNECTIONS", id=cid)["key"]["S"]
    assert cluster.admin("node-a", "DELETE", f"/api/v1/connections/{cid}").status == 204

    tomb = raw_item(cluster["node-a"].env, "TWINSYNC_TABLE_KEYS", key=connection_tomb_key(cid))
    secret = tomb["secret"]["S"]
    assert secret != end_value and encode_key(key) not in json.dumps(tomb)
    assert kms_open(secret, sealing.tombstone_context(cid)) == key
    assert refused_code(secret, sealing.connection_context(cid)) == "InvalidCiphertextException"
    # the other end, holding the key, is still told why (node_auth opens the tombstone)
    token = tokens.issue_token(key, issuer="node-b", audience="node-a", connection_id=cid)
    answer = cluster.raw(
        "node-a",
        "GET",
        f"/node/v1/connections/{cid}/status",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (answer.status, answer.error) == (404, "connection_deleted")


# --- records written before sealing -------------------------------------------------------


def test_a_legacy_plaintext_key_still_authenticates_and_is_sealed_as_it_is_read(node, client):
    from chalicelib.store.models import ConnectionModel

    legacy = bytes(range(32))
    saved_connection("conn-old", key=encode_key(legacy))  # what the node wrote before
    before = raw_item(node, "TWINSYNC_TABLE_CONNECTIONS", id="conn-old")
    assert before["key"]["S"] == encode_key(legacy)

    assert status_call(client, "conn-old", legacy).status_code == 200

    after = raw_item(node, "TWINSYNC_TABLE_CONNECTIONS", id="conn-old")
    assert after["key"]["S"].startswith("kms1:")
    assert kms_open(after["key"]["S"], sealing.connection_context("conn-old")) == legacy
    assert encode_key(legacy) not in json.dumps(after)
    # only that attribute changed: a holder of the record's version can still save it
    assert after["version"] == before["version"]
    conn = ConnectionModel.get("conn-old")
    conn.description = "edited after the reseal"
    conn.save()
    assert status_call(client, "conn-old", legacy).status_code == 200


def test_a_legacy_tombstone_secret_still_opens_and_is_sealed_as_it_is_read(node):
    from chalicelib.connections.store import find_tombstone
    from chalicelib.store.models import KeyModel, utcnow
    from chalicelib.store.namespaces import connection_tomb_key

    legacy = bytes(range(32, 64))
    KeyModel(
        key=connection_tomb_key("conn-gone"),
        value="deleted by the admin of Node A",
        secret=encode_key(legacy),
        expires_at=utcnow() + timedelta(days=1),
    ).save()

    found = find_tombstone("conn-gone")
    assert found is not None and found.key == legacy

    item = raw_item(node, "TWINSYNC_TABLE_KEYS", key=connection_tomb_key("conn-gone"))
    assert kms_open(item["secret"]["S"], sealing.tombstone_context("conn-gone")) == legacy
    assert find_tombstone("conn-gone").key == legacy


# --- KMS calls ----------------------------------------------------------------------------


def test_a_warm_container_asks_kms_once_per_key(node, client, kms_calls):
    from chalicelib.root import reset, root

    saved_connection("conn-1")
    reset()
    root()  # a new container: nothing opened yet
    kms_calls.clear()

    for _ in range(3):
        assert status_call(client, "conn-1", KEY).status_code == 200
    assert kms_calls == ["Decrypt"]

    saved_connection("conn-2")  # sealing remembers what it sealed: no Decrypt for it
    assert status_call(client, "conn-2", KEY).status_code == 200
    assert kms_calls == ["Decrypt", "Encrypt"]


def test_the_decrypt_cache_is_bounded(node, kms_calls):
    from chalicelib.config import get_settings
    from chalicelib.connections.sealing import KeySealer
    from chalicelib.root import kms_client

    sealer = KeySealer(kms_client("us-east-1"), get_settings().resources.kms_key_arn, cache_size=2)
    stored = [sealer.seal(bytes([i]) * 32, sealing.connection_context(f"c{i}")) for i in range(3)]
    kms_calls.clear()

    assert sealer.open(stored[2], sealing.connection_context("c2")) == bytes([2]) * 32
    assert kms_calls == []  # the newest two are remembered
    assert sealer.open(stored[0], sealing.connection_context("c0")) == bytes([0]) * 32
    assert kms_calls == ["Decrypt"]  # the oldest was let go


# --- KMS failing --------------------------------------------------------------------------


def test_without_kms_nothing_is_stored_and_the_admin_is_told_why(cluster):
    from chalicelib.store.models import ConnectionModel, InvitationModel, KeyModel

    cluster["node-a"].env["TWINSYNC_KMS_KEY_ARN"] = MISSING_KEY
    answer = cluster.admin(
        "node-a",
        "POST",
        "/api/v1/connections",
        initiate_to_b(),
    )
    assert (answer.status, answer.error) == (502, "key_service_failed")
    message = answer.body["error"]["message"]
    assert "NotFoundException" in message and "TWINSYNC_KMS_KEY_ARN" in message
    with cluster.active(cluster["node-a"]):
        assert list(ConnectionModel.scan()) == []
        assert list(InvitationModel.scan()) == []
        assert [k.key for k in KeyModel.scan()] == []


def test_an_acceptor_without_kms_leaves_the_invitation_open_for_a_retry(cluster):
    from chalicelib.store.models import ConnectionModel, InvitationModel

    created = cluster.admin(
        "node-a",
        "POST",
        "/api/v1/connections",
        initiate_to_b(),
    ).body
    cid = created["connection"]["id"]
    with cluster.active(cluster["node-b"]):
        pass  # B's resources exist from here on
    working = cluster["node-b"].env["TWINSYNC_KMS_KEY_ARN"]
    cluster["node-b"].env["TWINSYNC_KMS_KEY_ARN"] = MISSING_KEY
    body = {"invitation_code": created["invitation_code"], "incoming_project": "TEST"}

    answer = cluster.admin("node-b", "POST", "/api/v1/invitations/accept", body)
    assert (answer.status, answer.error) == (502, "key_service_failed")
    with cluster.active(cluster["node-a"]):  # sealed before the handshake: A is untouched
        assert ConnectionModel.get(cid).status == "pending"
        assert [i.status for i in InvitationModel.scan()] == ["open"]
    with cluster.active(cluster["node-b"]):
        assert list(ConnectionModel.scan()) == []

    cluster["node-b"].env["TWINSYNC_KMS_KEY_ARN"] = working
    answer = cluster.admin("node-b", "POST", "/api/v1/invitations/accept", body)
    assert answer.status == 201, answer.body
    assert key_of(cluster, cid, "node-a") == key_of(cluster, cid, "node-b")


def test_a_key_that_cannot_be_opened_is_an_error_not_a_refused_token(cluster):
    cid = connect(cluster)
    key = key_of(cluster, cid)
    cluster["node-a"].env["TWINSYNC_KMS_KEY_ARN"] = MISSING_KEY  # a new container, wrong key
    token = tokens.issue_token(key, issuer="node-b", audience="node-a", connection_id=cid)
    answer = cluster.raw(
        "node-a",
        "GET",
        f"/node/v1/connections/{cid}/status",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (answer.status, answer.error) == (502, "key_service_failed")
    assert "NotFoundException" in answer.body["error"]["message"]


def test_a_node_without_a_kms_key_does_not_start():
    from chalicelib.config import ConfigError, load_settings
    from tests.conftest import node_env

    with pytest.raises(ConfigError) as caught:
        load_settings(node_env())
    assert "TWINSYNC_KMS_KEY_ARN is required" in caught.value.problems
