"""What a value type writes (DynamoDB, an API body, the script child's input) is what the
dataclass it was wrote: msgspec's ``structs.asdict`` is shallow and ``to_builtins`` turns
tuples into lists, ``dataclasses.asdict`` was deep and kept tuples (no I/O)."""

from __future__ import annotations

import json

from chalicelib.ops.jobstate import JobState
from chalicelib.rules.script.runner import ScriptLimits
from chalicelib.sync.notify import Webhook


def test_a_job_state_dict_is_a_deep_copy_in_field_order_and_keeps_tuples():
    job = JobState(
        id="j1",
        kind="bulk_sync",
        connection_id="c1",
        state="running",
        created_at=1.5,
        created_by="admin",
        tail=["OPS-1", ("OPS-2", 3)],
        failures=[{"key": "OPS-4", "error": "x"}],
        result={"t": (1, 2)},
    )
    data = job.to_dict()
    assert list(data) == list(JobState.__struct_fields__)
    assert data["tail"] == ["OPS-1", ("OPS-2", 3)] and data["result"] == {"t": (1, 2)}
    data["tail"].append("OPS-9")
    data["failures"][0]["error"] = "changed"
    assert job.tail == ["OPS-1", ("OPS-2", 3)] and job.failures[0]["error"] == "x"
    text = json.dumps(job.to_dict(), separators=(",", ":"))
    assert text.startswith(
        '{"id":"j1","kind":"bulk_sync","connection_id":"c1","state":"running","created_at":1.5,'
        '"created_by":"admin","jql":null,"trigger_id":null,"page_size":100,"cursor":null,'
        '"pages_read":0,"tail":["OPS-1",["OPS-2",3]],"chunks":0,'
    )


def test_a_webhook_resource_is_the_same_json():
    hook = Webhook("w1", "https://h.test/x", ("issue_error", "connection_paused"), "2026-12-04")
    assert json.dumps(hook.resource()) == (
        '{"id": "w1", "url": "https://h.test/x", "events": ["issue_error", "connection_paused"], '
        '"created_at": "2026-12-04"}'
    )


def test_script_limits_travel_as_a_flat_dict():
    assert ScriptLimits(cpu_seconds=1).to_json() == {
        "cpu_seconds": 1,
        "wall_seconds": 5.0,
        "memory_mb": 256,
        "output_bytes": 2_000_000,
    }
