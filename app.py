"""Twinsync: wiring only. Routes, queue handlers and schedules hand over to chalicelib."""

from chalice import Chalice, Rate

from chalicelib import workers
from chalicelib.api.admin import admin_api
from chalicelib.api.connections import connections_api
from chalicelib.api.drift import drift_api
from chalicelib.api.node import node_api
from chalicelib.api.node_connections import node_connections_api
from chalicelib.api.node_sync import node_sync_api
from chalicelib.api.ops import ops_api
from chalicelib.api.routing import contract_errors
from chalicelib.api.rules import rules_api
from chalicelib.api.sync import sync_api
from chalicelib.api.webhooks import webhooks_api
from chalicelib.console.routes import console_api

app = Chalice(app_name="twinsync")
app.register_middleware(contract_errors, "http")
app.register_blueprint(admin_api)
app.register_blueprint(node_api)
app.register_blueprint(connections_api)
app.register_blueprint(node_connections_api)
app.register_blueprint(sync_api)
app.register_blueprint(node_sync_api)
app.register_blueprint(webhooks_api)
app.register_blueprint(ops_api)
app.register_blueprint(rules_api)
app.register_blueprint(drift_api)
app.register_blueprint(console_api)  # HTML, all under /console: not the JSON contract

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
