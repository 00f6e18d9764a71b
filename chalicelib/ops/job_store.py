"""Where a bulk job is kept (keys table) and listed (events table).

``job#<id>`` holds the state (:class:`~chalicelib.ops.jobstate.JobState` as JSON) with the
step number in ``counter``; ``job#<id>#c#<n>`` the n-th chunk of listed keys (or pairs);
``job#<id>#cancel`` a cancel request. ``jobs#<connection>`` in the events table lists a
connection's jobs, ``jobs`` every job of the node (jobs made before it existed are only
in their connection's list). A save is conditional on the step number, so a step that outlived its
visibility cannot overwrite what a newer step saved (:class:`Superseded`).
"""

from __future__ import annotations

import json
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.ops.jobstate import CHUNK, JobState
from chalicelib.store.keys import condition_failed, get_key, set_key
from chalicelib.store.models import EventModel, KeyModel, key_is_live
from chalicelib.store.namespaces import (
    JOBS_PK,
    job_cancel_key,
    job_chunk_key,
    job_key,
    jobs_pk,
)
from chalicelib.store.pages import ID, KeyShape, Page, query_page

JOB_POSITIONS = KeyShape(fixed={"pk": JOBS_PK}, patterns={"sk": "job-" + ID})


def connection_job_positions(connection_id: str) -> KeyShape:
    """The positions of one connection's list: a cursor of another list is refused."""
    return KeyShape(fixed={"pk": jobs_pk(connection_id)}, patterns={"sk": "job-" + ID})


class Superseded(Exception):
    """Another step saved the job meanwhile: this one stops without writing."""


def load(job_id: str) -> tuple[JobState, int] | None:
    try:
        item = KeyModel.get(job_key(job_id), consistent_read=True)
    except KeyModel.DoesNotExist:
        return None
    return JobState.from_dict(json.loads(item.value or "{}")), int(item.counter or 0)


def save(job: JobState, counter: int, *, next_counter: int | None = None) -> None:
    """Save ``job`` if its step number is still ``counter`` (else :class:`Superseded`)."""
    item = KeyModel(
        key=job_key(job.id),
        value=json.dumps(job.to_dict(), separators=(",", ":")),
        counter=counter if next_counter is None else next_counter,
    )
    try:
        item.save(condition=KeyModel.counter == counter)
    except PutError as exc:
        if condition_failed(exc):
            raise Superseded(job.id) from exc
        raise


def save_chunk(job_id: str, index: int, items: list[Any]) -> None:
    KeyModel(key=job_chunk_key(job_id, index), value=json.dumps(items)).save()


def read_chunk(job_id: str, index: int) -> list[Any]:
    item = get_key(job_chunk_key(job_id, index))
    return json.loads(item.value) if item is not None and item.value else []


def cancel_requested(job_id: str) -> bool:
    return get_key(job_cancel_key(job_id)) is not None


def create(job: JobState, items: list[Any]) -> None:
    """Store a new job: its chunks, its state at step 0, its place in the connection's list."""
    for index in range(0, len(items), CHUNK):
        save_chunk(job.id, index // CHUNK, items[index : index + CHUNK])
    KeyModel(
        key=job_key(job.id), value=json.dumps(job.to_dict(), separators=(",", ":")), counter=0
    ).save(condition=KeyModel.key.does_not_exist())
    listed = {"id": job.id, "kind": job.kind, "created_at": job.created_at}
    EventModel(pk=jobs_pk(job.connection_id), sk=job.id, data=listed).save()
    EventModel(pk=JOBS_PK, sk=job.id, data={**listed, "connection_id": job.connection_id}).save()


def request_cancel(job_id: str) -> None:
    set_key(job_cancel_key(job_id), "requested")


def recent_job_ids(connection_id: str, limit: int = 20) -> list[str]:
    """The connection's newest jobs first."""
    return [
        item.sk
        for item in EventModel.query(jobs_pk(connection_id), scan_index_forward=False, limit=limit)
    ]


def job_ids_page(
    *, connection_id: str | None = None, limit: int, after: dict[str, str] | None = None
) -> Page[str]:
    """One page of the node's job ids (of one connection's when ``connection_id`` is
    given), newest first."""
    if connection_id is None:
        pk, shape = JOBS_PK, JOB_POSITIONS
    else:
        pk, shape = jobs_pk(connection_id), connection_job_positions(connection_id)
    start = shape.check(after) if after is not None else None
    found = query_page(EventModel, pk, forward=False, limit=limit, after=start)
    return Page([item.sk for item in found.items], found.after)


def load_many(job_ids: list[str]) -> dict[str, tuple[JobState, bool]]:
    """Each job found: its state and whether a cancel was asked (two batch reads)."""
    names = [job_key(j) for j in job_ids] + [job_cancel_key(j) for j in job_ids]
    items = {}
    for start in range(0, len(names), 100):
        batch = KeyModel.batch_get(names[start : start + 100], consistent_read=True)
        items.update({item.key: item for item in batch})
    found = {}
    for job_id in job_ids:
        item = items.get(job_key(job_id))
        if item is None:
            continue
        cancel = items.get(job_cancel_key(job_id))
        state = JobState.from_dict(json.loads(item.value or "{}"))
        found[job_id] = (state, cancel is not None and key_is_live(cancel))
    return found
