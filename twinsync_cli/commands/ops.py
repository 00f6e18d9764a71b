"""``twinsync triggers``, ``bulk-sync``, ``jobs`` and ``audit``: operations on a connection
once it is active."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from twinsync_cli import output
from twinsync_cli.client import Client, segment
from twinsync_cli.commands import client, connection_option, limit_option, output_option
from twinsync_cli.errors import Unfinished

FINAL_STATES = ("done", "cancelled", "failed")


def conn_path(connection_id: str) -> str:
    return f"/api/v1/connections/{segment(connection_id)}"


# --- triggers ---------------------------------------------------------------------------

TRIGGER_COLUMNS: list[output.Column] = [
    ("ID", output.field("id")),
    ("JQL", output.field("jql")),
    ("ACTIVE", output.field("active")),
    ("NOTE", output.field("note")),
    ("UPDATED", output.field("updated_at")),
]


@click.group("triggers")
def triggers() -> None:
    """JQL queries whose issues are brought under sync automatically."""


@triggers.command("add")
@click.argument("jql")
@connection_option
@click.option("--inactive", is_flag=True, help="Create it switched off.")
@click.option("--note", default=None)
@output_option
def add_trigger(
    jql: str, connection_id: str, inactive: bool, note: str | None, output_format: str
) -> None:
    """Add a trigger: issues matching JQL get synced when they change."""
    body: dict[str, Any] = {"jql": jql, "active": not inactive}
    if note is not None:
        body["note"] = note
    trigger = client().post(conn_path(connection_id) + "/triggers", body)
    if output_format == "json":
        output.emit_json(trigger)
        return
    output.table([trigger], TRIGGER_COLUMNS, title="Trigger added")


@triggers.command("list")
@connection_option
@limit_option
@output_option
def list_triggers(connection_id: str, limit: int | None, output_format: str) -> None:
    """The connection's triggers (all pages)."""
    items = client().items(conn_path(connection_id) + "/triggers", {"limit": limit})
    if output_format == "json":
        output.emit_json(items)
        return
    output.table(items, TRIGGER_COLUMNS, title="Triggers")


@triggers.command("preview")
@click.argument("jql")
@connection_option
@output_option
def preview(jql: str, connection_id: str, output_format: str) -> None:
    """How many issues JQL matches now, and the first few keys."""
    answer = client().post(conn_path(connection_id) + "/triggers/preview", {"jql": jql})
    if output_format == "json":
        output.emit_json(answer)
        return
    about = "" if answer.get("exact", True) else "at least "
    output.say(f"{about}{answer.get('count')} issues match.")
    if answer.get("sample_keys"):
        output.say("First: " + ", ".join(answer["sample_keys"]))


# --- bulk jobs ------------------------------------------------------------------------------

JOB: list[output.Column] = [
    ("id", output.field("id")),
    ("kind", output.field("kind")),
    ("connection", output.field("connection_id")),
    ("state", output.field("state")),
    ("jql", output.field("jql")),
    ("total", output.field("total")),
    ("done", output.field("done")),
    ("failed", output.field("failed")),
    ("skipped", output.field("skipped")),
    ("error", output.field("error")),
    ("started", output.field("started_at")),
    ("finished", output.field("finished_at")),
]


def settled_count(job: Mapping[str, Any]) -> int:
    return int(job.get("done") or 0) + int(job.get("failed") or 0) + int(job.get("skipped") or 0)


def eta_text(job: Mapping[str, Any]) -> str:
    seconds = job.get("eta_seconds")
    if seconds is None:
        return "ETA -"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"ETA {hours}:{minutes:02d}:{secs:02d}"


def state_text(job: Mapping[str, Any]) -> str:
    state = str(job.get("state"))
    waiting = job.get("waiting")
    if waiting and state not in FINAL_STATES:
        return f"{state} (waiting: {waiting.get('reason')})"
    return state


def watch_job(api: Client, job_id: str, *, poll_every: float) -> Any:
    """Poll ``GET /api/v1/jobs/{id}`` until the job ends, with a live bar on stderr (drawn
    live on a terminal, once at the end otherwise; stdout stays for the result)."""
    path = f"/api/v1/jobs/{segment(job_id)}"
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.fields[total_text]}"),
        TaskProgressColumn(),
        TextColumn("{task.fields[eta]}"),
        TextColumn("{task.fields[failed]}"),
        console=output.console(stderr=True),
    )
    with progress:
        task = progress.add_task("starting", total=None, total_text="?", eta="", failed="")
        while True:
            job = api.get(path)
            known = bool(job.get("total_known"))
            progress.update(
                task,
                description=state_text(job),
                total=job.get("total") if known else None,
                completed=settled_count(job),
                total_text=str(job.get("total")) if known else "?",
                eta=eta_text(job),
                failed=f"{job.get('failed') or 0} failed" if job.get("failed") else "",
            )
            if job.get("state") in FINAL_STATES:
                return job
            time.sleep(poll_every)


def finish(job: Mapping[str, Any], output_format: str) -> None:
    if output_format == "json":
        output.emit_json(job)
    else:
        output.details(job, JOB, title="Job")
        for failure in (job.get("failures") or [])[:10]:
            output.say(f"  failed: {failure.get('key')}: {failure.get('error')}")
    if job.get("state") != "done" or job.get("failed"):
        raise Unfinished(
            f"Job {job.get('id')} ended {job.get('state')} with {job.get('failed') or 0} "
            f"failed of {job.get('total')}" + (f": {job['error']}" if job.get("error") else "."),
            code=f"job_{job.get('state')}",
        )


def follow(api: Client, job_id: str, *, poll_every: float, output_format: str) -> None:
    try:
        job = watch_job(api, job_id, poll_every=poll_every)
    except KeyboardInterrupt:
        output.note(
            f"Stopped watching. Job {job_id} goes on on the node: twinsync jobs show {job_id} "
            f"(twinsync jobs cancel {job_id} stops it)."
        )
        raise SystemExit(130) from None
    finish(job, output_format)


POLL_OPTION = click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.05, max=60),
    default=1.0,
    show_default=True,
    help="Seconds between two looks at the job.",
)


@click.command("bulk-sync")
@click.argument("jql")
@connection_option
@click.option("--page-size", type=click.IntRange(10, 100), default=None)
@click.option("--max-per-hour", type=click.IntRange(1, 1_000_000), default=None)
@click.option("--no-wait", is_flag=True, help="Print the job id and return at once.")
@POLL_OPTION
@output_option
def bulk_sync(
    jql: str,
    connection_id: str,
    page_size: int | None,
    max_per_hour: int | None,
    no_wait: bool,
    poll_interval: float,
    output_format: str,
) -> None:
    """Sync every issue JQL matches, with a live progress bar and ETA until the job ends."""
    body: dict[str, Any] = {"jql": jql}
    if page_size is not None:
        body["page_size"] = page_size
    if max_per_hour is not None:
        body["max_per_hour"] = max_per_hour
    api = client()
    started = api.post(conn_path(connection_id) + "/bulk-sync", body)
    job_id = str(started["job_id"])
    if no_wait:
        if output_format == "json":
            output.emit_json(started)
        else:
            output.say(job_id)
        return
    output.note(f"Job {job_id} started; Ctrl-C stops watching (the job goes on).")
    follow(api, job_id, poll_every=poll_interval, output_format=output_format)


@click.group("jobs")
def jobs() -> None:
    """Bulk jobs: show, watch, cancel."""


@jobs.command("list")
@limit_option
@output_option
def list_jobs(limit: int | None, output_format: str) -> None:
    """This node's bulk jobs, newest first (all pages; a node with list paging)."""
    items = client().items("/api/v1/jobs", {"limit": limit})
    if output_format == "json":
        output.emit_json(items)
        return
    output.table(
        items,
        [
            ("ID", output.field("id")),
            ("KIND", output.field("kind")),
            ("CONNECTION", output.field("connection_id")),
            ("STATE", output.field("state")),
            ("DONE", lambda j: f"{settled_count(j)}/{j.get('total')}"),
            ("FAILED", output.field("failed")),
            ("CREATED", output.field("created_at")),
        ],
        title="Jobs",
    )


@jobs.command("show")
@click.argument("job_id", metavar="ID")
@output_option
def show_job(job_id: str, output_format: str) -> None:
    """A job's progress once."""
    job = client().get(f"/api/v1/jobs/{segment(job_id)}")
    if output_format == "json":
        output.emit_json(job)
        return
    output.details(job, [*JOB, ("ETA", output.field("eta"))], title="Job")


@jobs.command("watch")
@click.argument("job_id", metavar="ID")
@POLL_OPTION
@output_option
def watch(job_id: str, poll_interval: float, output_format: str) -> None:
    """Follow a job with the progress bar until it ends."""
    follow(client(), job_id, poll_every=poll_interval, output_format=output_format)


@jobs.command("cancel")
@click.argument("job_id", metavar="ID")
@output_option
def cancel(job_id: str, output_format: str) -> None:
    """Ask the node to stop a job (it ends cancelled)."""
    job = client().post(f"/api/v1/jobs/{segment(job_id)}/cancel")
    if output_format == "json":
        output.emit_json(job)
        return
    output.say(f"Job {job.get('id', job_id)}: {job.get('state')}.")


# --- audit ---------------------------------------------------------------------------------


@click.group("audit")
def audit() -> None:
    """The node's audit log."""


@audit.command("export")
@click.option("-c", "--connection", "connection_id", metavar="ID", help="Only this connection.")
@click.option(
    "-o",
    "--output",
    "target",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True, path_type=Path),
    default=Path("-"),
    help="Write to FILE (replaced only once the export is complete) instead of stdout.",
)
@limit_option
def export(connection_id: str | None, target: Path, limit: int | None) -> None:
    """Every audit entry as JSON lines (oldest first, all pages)."""
    lines = client().lines(
        "/api/v1/audit", {"format": "jsonl", "connection_id": connection_id, "limit": limit}
    )
    if str(target) == "-":
        for line in lines:
            click.echo(line)  # bytes: written as they came, to stdout's binary stream
        return
    count = 0
    partial = target.with_name(f".{target.name}.partial")
    try:
        with partial.open("wb") as out:
            for line in lines:
                out.write(line + b"\n")
                count += 1
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    output.note(f"{count} audit entries written to {target}.")


COMMANDS = [triggers, bulk_sync, jobs, audit]
