"""A captured webhook sent again costs no tracker read and syncs nothing (issue 13 item 9).

The signature covers the body only; ``X-Atlassian-Webhook-Identifier`` is not signed. So a
captured body + signature sent again with a fresh identifier must still be a duplicate,
and a signed body older than the accepted window must not be queued at all. Issue 19
(ADR 0012): a signed delivery is no longer claimed at intake; ingest drops it before
reading when the issue's twins have read past its signed timestamp (the mark rides on
the twin's update the sync makes anyway), or, for an issue with no twin, when its body
was claimed before. Jira Server's unsigned deliveries keep intake's body claim.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import timedelta

import pytest

from chalicelib.errors import BadRequest
from chalicelib.queues import QueueMessage
from chalicelib.root import build_sync, root
from chalicelib.store.models import TwinModel
from chalicelib.store.namespaces import hook_body_key
from chalicelib.sync.ingest import handle_ingest
from chalicelib.sync.intake import MAX_AGE, take_webhook
from chalicelib.sync.store import get_key
from chalicelib.trackers.webhook import sign
from tests.conftest import WEBHOOK_SECRET

CID = "conn-replay"


class Sent(list):
    def __call__(self, url, body, *, group_id, dedup_id, region):
        self.append((body, dedup_id))


@pytest.fixture
def intake(node):
    sent = Sent()
    deps = build_sync(root().settings, send=sent, fetch=lambda *a, **k: None)
    return sent, deps


def now_ms() -> int:
    return int(time.time() * 1000)


def body(timestamp: int | None, summary: str = "First") -> bytes:
    payload = {
        "webhookEvent": "jira:issue_updated",
        "issue": {"id": "10001", "key": "OPS-1", "fields": {"summary": summary}},
    }
    if timestamp is not None:
        payload["timestamp"] = timestamp
    return json.dumps(payload).encode()


def cloud_headers(raw: bytes, identifier: str | None = None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature": sign(WEBHOOK_SECRET, raw),
        "X-Atlassian-Webhook-Identifier": identifier or str(uuid.uuid4()),
    }


def test_a_captured_body_with_a_new_identifier_meets_the_queue_s_deduplication(intake):
    """Within five minutes the FIFO queue drops the copy: each carries the body's hash as
    its deduplication id, whatever its delivery id."""
    sent, deps = intake
    raw = body(now_ms())
    assert take_webhook(cloud_headers(raw, "first"), {}, raw, deps=deps)["status"] == "queued"
    take_webhook(cloud_headers(raw), {}, raw, deps=deps)
    assert len({dedup_id for _, dedup_id in sent}) == 1


@pytest.fixture
def synced(node):
    """OPS-1 on this end, linked as a twin in a connection (its peer private: nothing is
    called out), and the worker's deps over a memory tracker."""
    from tests.factories.connections import saved_connection
    from tests.factories.memory_tracker import MemoryTracker

    tracker = MemoryTracker.with_projects("OPS")
    key = tracker.add_issue("OPS", "First").key
    saved_connection(CID)
    TwinModel(connection_id=CID, local_key=key, remote_key="X-1").save()
    sent = Sent()
    worker = build_sync(root().settings, tracker=tracker, send=sent, fetch=lambda *a, **k: None)
    return tracker, worker, key


def deliver(raw: bytes, deps, *, identifier: str | None = None, server: bool = False) -> None:
    """Jira sends ``raw`` to the webhook (Cloud: signed; Server: the URL's secret); ingest
    takes what intake queued."""
    queued = Sent()
    api = build_sync(root().settings, send=queued, fetch=lambda *a, **k: None)
    if server:
        answer = take_webhook({}, {"secret": WEBHOOK_SECRET}, raw, deps=api)
    else:
        answer = take_webhook(cloud_headers(raw, identifier), {}, raw, deps=api)
    assert answer["status"] == "queued"
    for message, _ in queued:
        handle_ingest(QueueMessage("m", "r", message, None, 1, "arn:ingest"), deps=deps)


def reads(tracker) -> int:
    return tracker.calls.count("get_issue")


def delivery(key: str, timestamp: int) -> bytes:
    payload = json.loads(body(timestamp))
    payload["issue"]["key"] = key
    return json.dumps(payload).encode()


def test_a_captured_delivery_sent_again_reads_nothing_and_sends_nothing(synced):
    tracker, worker, key = synced
    tracker.edit(key, summary="Edited by Alice")
    raw = delivery(key, now_ms())
    deliver(raw, worker, identifier="first")
    assert reads(tracker) == 1
    assert TwinModel.get(CID, key).last_sent_version == 1

    for _ in range(3):  # after the queue's five minutes, under fresh identifiers
        deliver(raw, worker)
    assert reads(tracker) == 1
    assert TwinModel.get(CID, key).last_sent_version == 1


def test_the_guard_costs_a_synced_change_no_write_of_its_own(synced):
    """Issue 19: the mark rides on the twin's update that records the send."""
    from tests.functional.test_send_direct import dynamodb_requests, writes

    tracker, worker, key = synced
    tracker.edit(key, summary="Edited by Alice")
    raw = delivery(key, now_ms())
    with dynamodb_requests() as made:
        deliver(raw, worker)
    assert writes(made).count("UpdateItem twins") == 2  # the lease; the send's, with the mark
    assert get_key(hook_body_key(hashlib.sha256(raw).hexdigest())) is None
    assert TwinModel.get(CID, key).webhook_seen is not None


def test_a_late_delivery_older_than_one_read_since_is_dropped(synced):
    tracker, worker, key = synced
    at = now_ms()
    tracker.edit(key, summary="Edited by Alice")
    deliver(delivery(key, at), worker)
    deliver(delivery(key, at - 5_000), worker)  # an earlier change's, arriving late
    assert reads(tracker) == 1
    tracker.edit(key, summary="Edited again")
    deliver(delivery(key, at + 1), worker)  # a newer one is read
    assert reads(tracker) == 2
    assert TwinModel.get(CID, key).last_sent_version == 2


def test_a_read_that_sends_nothing_still_remembers_the_delivery(synced):
    """A change to something this connection does not sync: the read writes nothing else,
    so the mark makes its own small update, and a replay of it reads nothing."""
    tracker, worker, key = synced
    deliver(delivery(key, now_ms()), worker)
    assert reads(tracker) == 1
    version = TwinModel.get(CID, key).last_sent_version
    quiet = delivery(key, now_ms() + 1)
    deliver(quiet, worker)  # nothing new: the issue is as sent
    assert reads(tracker) == 2
    assert TwinModel.get(CID, key).last_sent_version == version
    deliver(quiet, worker)
    assert reads(tracker) == 2


def test_an_issue_with_no_twin_claims_the_body_at_ingest(node):
    """Nothing to carry the mark: the body's hash is claimed (one conditional put), for
    at least as long as its signed timestamp is accepted."""
    from tests.factories.memory_tracker import MemoryTracker

    tracker = MemoryTracker.with_projects("OPS")
    key = tracker.add_issue("OPS", "Not synced").key
    worker = build_sync(root().settings, tracker=tracker, send=Sent(), fetch=lambda *a, **k: None)
    ahead = now_ms() + 10 * 60_000  # Jira's clock ten minutes ahead of ours
    raw = delivery(key, ahead)
    deliver(raw, worker)
    deliver(raw, worker)
    assert reads(tracker) == 1
    item = get_key(hook_body_key(hashlib.sha256(raw).hexdigest()))
    assert item is not None
    remembered_until = item.expires_at.timestamp() * 1000
    assert remembered_until >= ahead + MAX_AGE / timedelta(milliseconds=1)


def test_two_changes_are_two_messages(intake):
    sent, deps = intake
    first, second = body(now_ms()), body(now_ms() + 1, summary="Second")
    take_webhook(cloud_headers(first), {}, first, deps=deps)
    take_webhook(cloud_headers(second), {}, second, deps=deps)
    assert len(sent) == 2


def test_the_queue_deduplicates_by_the_body_too(intake):
    """Two replays racing past the stored key still meet the FIFO queue's deduplication."""
    sent, deps = intake
    raw = body(now_ms())
    take_webhook(cloud_headers(raw), {}, raw, deps=deps)
    ((_, dedup_id),) = sent
    assert len(dedup_id) <= 128  # SQS's limit, whatever the identifier's length
    assert dedup_id.endswith(hashlib.sha256(raw).hexdigest())


def test_a_signed_delivery_older_than_the_window_is_refused(intake):
    sent, deps = intake
    stale = now_ms() - int(MAX_AGE / timedelta(milliseconds=1)) - 60_000
    raw = body(stale)
    with pytest.raises(BadRequest) as refused:
        take_webhook(cloud_headers(raw), {}, raw, deps=deps)
    assert refused.value.code == "stale_webhook"
    assert sent == []


def test_a_signed_delivery_from_the_future_is_refused(intake):
    sent, deps = intake
    raw = body(now_ms() + 24 * 3_600_000)
    with pytest.raises(BadRequest, match="timestamp"):
        take_webhook(cloud_headers(raw), {}, raw, deps=deps)
    assert sent == []


def test_a_signed_delivery_without_a_timestamp_is_refused(intake):
    sent, deps = intake
    raw = body(None)
    with pytest.raises(BadRequest) as refused:
        take_webhook(cloud_headers(raw), {}, raw, deps=deps)
    assert refused.value.code == "stale_webhook"
    assert sent == []


def test_a_replayed_old_delivery_over_http_is_a_4xx_and_not_queued(client, node):
    import boto3

    raw = body(1550286601840)  # a real Jira Cloud payload's timestamp (2019)
    answer = client.http.post("/webhooks/jira", headers=cloud_headers(raw), body=raw)
    assert answer.status_code == 400
    assert json.loads(answer.body)["error"]["code"] == "stale_webhook"
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=node["TWINSYNC_QUEUE_INGEST_URL"], MaxNumberOfMessages=10)
    assert got.get("Messages", []) == []


def test_a_server_delivery_sent_again_reads_nothing(synced):
    """Jira Server signs nothing, but its copies are dropped the same way."""
    tracker, worker, key = synced
    tracker.edit(key, summary="Edited by Alice")
    raw = delivery(key, now_ms())
    deliver(raw, worker, server=True)
    deliver(raw, worker, server=True)
    assert reads(tracker) == 1
    assert TwinModel.get(CID, key).last_sent_version == 1


def test_a_forged_server_timestamp_from_the_future_cannot_silence_the_issue(synced):
    """Whoever holds a Server URL can write any ``timestamp``: intake caps it at our
    clock, so the real deliveries that follow are still read."""
    tracker, worker, key = synced
    deliver(delivery(key, now_ms() + 365 * 86_400_000), worker, server=True)
    assert TwinModel.get(CID, key).webhook_seen <= now_ms()
    tracker.edit(key, summary="Edited by Alice")
    deliver(delivery(key, now_ms() + 1), worker, server=True)
    assert reads(tracker) == 2
    assert TwinModel.get(CID, key).last_sent_version == 2  # Alice's edit went out


def test_a_server_delivery_without_a_timestamp_claims_its_body_at_ingest(synced):
    tracker, worker, _ = synced
    raw = body(None)
    deliver(raw, worker, server=True)
    deliver(raw, worker, server=True)
    assert reads(tracker) == 1
    assert get_key(hook_body_key(hashlib.sha256(raw).hexdigest())) is not None


def test_intake_writes_nothing(intake):
    """Issue 19: no claim, no key: the queue's deduplication and ingest's guard do it."""
    from tests.functional.test_send_direct import dynamodb_requests, writes

    _, deps = intake
    cloud, server = body(now_ms()), body(now_ms() + 1, summary="Server")
    with dynamodb_requests() as made:
        take_webhook(cloud_headers(cloud), {}, cloud, deps=deps)
        take_webhook({}, {"secret": WEBHOOK_SECRET}, server, deps=deps)
    assert writes(made) == []


def test_our_own_change_is_ignored_once_a_worker_knows_who_we_are(node):
    """An apply's write comes back as a webhook authored by the integration user: ingest
    would skip it, so intake drops it (no dedup writes, no message) once a worker asked
    the tracker who that user is; another user's change is queued as ever."""
    from tests.factories.memory_tracker import MemoryTracker

    tracker = MemoryTracker.with_projects("OPS")
    worker = build_sync(root().settings, tracker=tracker, fetch=lambda *a, **k: None)
    sent = Sent()
    api = build_sync(root().settings, send=sent, fetch=lambda *a, **k: None)  # another container

    def delivery(author: str) -> bytes:
        payload = json.loads(body(now_ms(), summary=f"by {author}"))
        return json.dumps({**payload, "user": {"accountId": author}}).encode()

    ours = delivery(tracker.user.id)
    assert take_webhook(cloud_headers(ours), {}, ours, deps=api)["status"] == "queued"
    worker.integration_user_id()  # the first ingest of a worker container learns it
    api = build_sync(root().settings, send=sent, fetch=lambda *a, **k: None)
    again = delivery(tracker.user.id)
    assert take_webhook(cloud_headers(again), {}, again, deps=api)["status"] == "ignored"
    theirs = delivery("someone-else")
    assert take_webhook(cloud_headers(theirs), {}, theirs, deps=api)["status"] == "queued"
    assert len(sent) == 2


def test_jira_s_retry_over_http_is_queued_once_and_writes_nothing(client, node):
    """A Cloud delivery and Jira's retry of it (same identifier, same stored body, a
    retry count): one ingest message, the queue's deduplication dropping the copy. Issue
    19: intake writes no key for a signed delivery (no ``hook#<id>``, no body claim:
    ingest's guard, ADR 0012)."""
    import boto3

    from chalicelib.store.namespaces import hook_key

    raw = body(now_ms())
    headers = cloud_headers(raw, "delivery-1")
    first = client.http.post("/webhooks/jira", headers=headers, body=raw)
    retry = {**headers, "X-Atlassian-Webhook-Retry": "1"}
    again = client.http.post("/webhooks/jira", headers=retry, body=raw)
    assert [json.loads(first.body)["status"], json.loads(again.body)["status"]] == [
        "queued",
        "queued",
    ]
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=node["TWINSYNC_QUEUE_INGEST_URL"], MaxNumberOfMessages=10)
    assert len(got.get("Messages", [])) == 1
    assert get_key(hook_body_key(hashlib.sha256(raw).hexdigest())) is None
    assert get_key(hook_key("delivery-1")) is None


def test_a_twin_made_while_the_issue_is_read_is_sent_that_read(node, monkeypatch):
    """The guard reads the twins before the issue. None then (an apply's first sync is
    about to save its twin), one by the time the read is back: the read goes to it."""
    from tests.factories.connections import saved_connection
    from tests.factories.memory_tracker import MemoryTracker

    tracker = MemoryTracker.with_projects("OPS")
    key = tracker.add_issue("OPS", "Made by an apply").key
    saved_connection(CID)
    worker = build_sync(root().settings, tracker=tracker, send=Sent(), fetch=lambda *a, **k: None)
    read = tracker.get_issue

    def read_while_linked(ref: str):
        TwinModel(connection_id=CID, local_key=key, remote_key="X-1").save()
        return read(ref)

    monkeypatch.setattr(tracker, "get_issue", read_while_linked)
    deliver(delivery(key, now_ms()), worker)
    assert TwinModel.get(CID, key).last_sent_version == 1
