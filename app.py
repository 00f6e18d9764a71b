"""Twinsync: wiring only. Routes, queue handlers and schedules hand over to chalicelib."""

from chalice import Chalice, Rate

# gc_hold first: in Lambda, importing it holds Python's cycle collector until the end of the
# function's first invocation (the middleware below; issue 19, cold start)
from chalicelib import gc_hold, workers
from chalicelib.api.middleware import contract_errors
from chalicelib.lazy_routes import blueprints

app = Chalice(app_name="twinsync")
app.register_middleware(gc_hold.release_after_call, "all")
app.register_middleware(contract_errors, "http")
# Every route of the admin and node APIs, and the console's pages (HTML, all under
# /console: not the JSON contract), declared from chalicelib/route_table.py: a route's
# view module is imported on its first call (cold start: only api_handler serves routes).
for blueprint in blueprints():
    app.register_blueprint(blueprint)

# Queue names here are placeholders: the deployed template (infra/) and the local stack
# bind each handler to its stage's queue.


@app.on_sqs_message(queue="twinsync-ingest.fifo", batch_size=10)
def ingest(event):
    return workers.ingest_batch(event.to_dict()["Records"])


@app.on_sqs_message(queue="twinsync-deliver.fifo", batch_size=10)
def deliver(event):
    return workers.deliver_batch(event.to_dict()["Records"])


@app.on_sqs_message(queue="twinsync-apply.fifo", batch_size=10)
def apply(event):
    return workers.apply_batch(event.to_dict()["Records"])


# catch-up work (bulk jobs, the reconcile sweep) on queues of its own: never before live changes
@app.on_sqs_message(queue="twinsync-ingest-catchup.fifo", batch_size=10)
def ingest_catchup(event):
    return workers.ingest_catchup_batch(event.to_dict()["Records"])


@app.on_sqs_message(queue="twinsync-deliver-catchup.fifo", batch_size=10)
def deliver_catchup(event):
    return workers.deliver_catchup_batch(event.to_dict()["Records"])


@app.on_sqs_message(queue="twinsync-apply-catchup.fifo", batch_size=10)
def apply_catchup(event):
    return workers.apply_catchup_batch(event.to_dict()["Records"])


@app.on_sqs_message(queue="twinsync-jobs.fifo", batch_size=1)
def jobs(event):
    return workers.jobs_batch(event.to_dict()["Records"])


@app.lambda_function(name="script_runner")
def script_runner(event, context):
    gc_hold.release()  # a user's script never runs with the collector held
    from chalicelib.rules.script.lambda_handler import handle

    return handle(event)


@app.lambda_function(name="outbox_poll")
def outbox_poll(event, context):
    """A private peer's pull, on a function URL of its own (issue 19)."""
    from chalicelib.api.pull_url import handle

    return handle(app, event, context)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def poll_peers(event):
    return workers.poll_peers(remaining_ms=event.context.get_remaining_time_in_millis)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def reconcile(event):
    return workers.reconcile()
