"""A captured webhook cannot be queued again (issue 13 item 9).

The signature covers the body only; ``X-Atlassian-Webhook-Identifier`` is not signed. So a
captured body + signature sent again with a fresh identifier must still be a duplicate,
and a signed body older than the dedup window must not be queued at all.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import timedelta

import pytest

from chalicelib.errors import BadRequest
from chalicelib.root import build_sync, root
from chalicelib.store.namespaces import hook_body_key
from chalicelib.sync.intake import MAX_AGE, take_webhook
from chalicelib.sync.store import get_key
from chalicelib.trackers.webhook import sign
from tests.conftest import WEBHOOK_SECRET


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


def test_a_captured_body_with_a_new_identifier_is_not_queued_again(intake):
    sent, deps = intake
    raw = body(now_ms())
    assert take_webhook(cloud_headers(raw, "first"), {}, raw, deps=deps)["status"] == "queued"
    for _ in range(5):
        answer = take_webhook(cloud_headers(raw), {}, raw, deps=deps)
        assert answer["status"] == "duplicate"
    assert len(sent) == 1


def test_the_same_identifier_is_still_a_duplicate(intake):
    sent, deps = intake
    raw = body(now_ms())
    headers = cloud_headers(raw, "first")
    take_webhook(headers, {}, raw, deps=deps)
    retry = {**headers, "X-Atlassian-Webhook-Retry": "1"}
    assert take_webhook(retry, {}, raw, deps=deps)["status"] == "duplicate"
    assert len(sent) == 1


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


def test_the_body_is_remembered_at_least_as_long_as_a_timestamp_is_accepted(intake):
    _, deps = intake
    ahead = now_ms() + 10 * 60_000  # Jira's clock ten minutes ahead of ours
    raw = body(ahead)
    take_webhook(cloud_headers(raw), {}, raw, deps=deps)
    item = get_key(hook_body_key(hashlib.sha256(raw).hexdigest()))
    assert item is not None
    remembered_until = item.expires_at.timestamp() * 1000
    assert remembered_until >= ahead + MAX_AGE / timedelta(milliseconds=1)


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


def test_server_deliveries_have_no_signed_timestamp_and_are_deduplicated_by_body(intake):
    sent, deps = intake
    raw = body(None)
    query = {"secret": WEBHOOK_SECRET}
    assert take_webhook({}, query, raw, deps=deps)["status"] == "queued"
    headers = {"X-Atlassian-Webhook-Identifier": "another"}
    assert take_webhook(headers, query, raw, deps=deps)["status"] == "duplicate"
    assert len(sent) == 1


def test_a_delivery_that_could_not_be_queued_is_taken_on_jira_s_retry(node):
    """The delivery is remembered before it is queued (one conditional write per key, no
    read); when the queue refuses it, it is forgotten again, so Jira's retry gets in."""

    class Flaky(Sent):
        def __call__(self, url, body, *, group_id, dedup_id, region):
            if not self:
                self.append(None)
                raise ConnectionError("queue unavailable")
            super().__call__(url, body, group_id=group_id, dedup_id=dedup_id, region=region)

    sent = Flaky()
    deps = build_sync(root().settings, send=sent, fetch=lambda *a, **k: None)
    raw = body(now_ms())
    headers = cloud_headers(raw, "first")
    with pytest.raises(ConnectionError):
        take_webhook(headers, {}, raw, deps=deps)
    retry = {**headers, "X-Atlassian-Webhook-Retry": "1"}
    assert take_webhook(retry, {}, raw, deps=deps)["status"] == "queued"
    assert take_webhook(retry, {}, raw, deps=deps)["status"] == "duplicate"
    assert len(sent) == 2  # the refused attempt and the retry


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


def test_jira_s_retry_over_http_is_queued_once_with_one_key(client, node):
    """A Cloud delivery and Jira's retry of it (same identifier, same stored body, a
    retry count): one ingest message. Issue 19: the body's key alone catches it, so the
    delivery costs one conditional write (no ``hook#<id>`` key any more)."""
    import boto3

    from chalicelib.store.namespaces import hook_key

    raw = body(now_ms())
    headers = cloud_headers(raw, "delivery-1")
    first = client.http.post("/webhooks/jira", headers=headers, body=raw)
    retry = {**headers, "X-Atlassian-Webhook-Retry": "1"}
    again = client.http.post("/webhooks/jira", headers=retry, body=raw)
    assert [json.loads(first.body)["status"], json.loads(again.body)["status"]] == [
        "queued",
        "duplicate",
    ]
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=node["TWINSYNC_QUEUE_INGEST_URL"], MaxNumberOfMessages=10)
    assert len(got.get("Messages", [])) == 1
    assert get_key(hook_body_key(hashlib.sha256(raw).hexdigest())) is not None
    assert get_key(hook_key("delivery-1")) is None
