"""The node's levels as metrics (issue 15): open error records and a private peer's lag,
written by the reconcile schedule each minute; the age of a batch's oldest queue record."""

from __future__ import annotations

from chalicelib import workers
from chalicelib.observability import metrics
from chalicelib.queues import process_batch
from chalicelib.store.namespaces import outbox_pk
from chalicelib.sync.events import record_error
from chalicelib.sync.store import append_entry
from tests.factories.connections import saved_connection
from tests.factories.sqs import sqs_record


def test_no_errors_and_no_private_peer(node) -> None:
    saved_connection("c-public", remote_public=True)
    with metrics.collecting() as buffer:
        workers._gauges()
    assert buffer == {metrics.OPEN_ERROR_RECORDS: [0.0]}


def test_open_errors_and_the_oldest_change_a_private_peer_has_not_pulled(node) -> None:
    saved_connection("c-private")  # its peer is private: it pulls our outbox
    append_entry(
        outbox_pk("c-private"),
        issue_key="OPS-1",
        replica={"id": "r-1", "key": "OPS-1"},
        retention_days=1,
    )
    record_error(stage="apply", connection_id="c-private", issue_key="OPS-1", exc=ValueError())
    with metrics.collecting() as buffer:
        workers._gauges()
    assert buffer[metrics.OPEN_ERROR_RECORDS] == [1.0]
    [lag] = buffer[metrics.PRIVATE_PEER_LAG]
    assert lag >= 0


def test_a_batch_reports_its_oldest_record_age(node) -> None:
    records = [sqs_record({"connection_id": "c-1"}), sqs_record({"connection_id": "c-1"})]
    records[0]["attributes"]["SentTimestamp"] = str(
        int(records[0]["attributes"]["SentTimestamp"]) - 90_000
    )
    with metrics.collecting() as buffer:
        process_batch(records, lambda m: None, give_up=lambda m, e: None, delay=lambda m, s: None)
    [age] = buffer[metrics.OLDEST_QUEUE_MESSAGE_AGE]
    assert age >= 90
