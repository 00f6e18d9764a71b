"""The names of every metric the alarms and the dashboard read: the one place to align.

The node emits its own metrics as CloudWatch embedded metric format (EMF) log lines in
namespace :data:`NAMESPACE` with the single dimension :data:`DIMENSION` set to the node id
(the ``NodeId`` template parameter). An alarm reads a metric with exactly the dimensions
it was emitted with, so a metric that also carries, say, a connection dimension must be
emitted once more with ``Node`` alone for these alarms to see it.

AWS's own metrics (SQS, Lambda, API Gateway) need no code: their names are here too so the
template names nothing by hand.
"""

from __future__ import annotations

from chalicelib.observability import metrics as node

NAMESPACE = node.NAMESPACE
DIMENSION = node.DIMENSION_NODE

# --- emitted by the node (EMF): the names come from the code that emits them ----------------
CHANGES_SYNCED = node.CHANGES_SYNCED  # Count: changes applied to a twin
SYNC_LATENCY = node.SYNC_LATENCY  # Milliseconds: tracker change -> applied on the other side
TRACKER_CALLS = node.TRACKER_CALLS  # Count: REST calls to this node's tracker
TRACKER_THROTTLED = node.TRACKER_THROTTLED  # Count: 429 answers from the tracker
OPEN_ERRORS = node.OPEN_ERROR_RECORDS  # Count (gauge): unresolved error records, by reconcile
OLDEST_MESSAGE_AGE = node.OLDEST_QUEUE_MESSAGE_AGE  # Seconds: oldest record in a batch
PEER_LAG = node.PRIVATE_PEER_LAG  # Seconds (gauge): since a private peer last pulled
JOB_ISSUES_PER_MINUTE = node.BULK_JOB_ITEMS  # Count: bulk job issues (Sum per minute = rate)

NODE_METRICS = (
    CHANGES_SYNCED,
    SYNC_LATENCY,
    TRACKER_CALLS,
    TRACKER_THROTTLED,
    OPEN_ERRORS,
    OLDEST_MESSAGE_AGE,
    PEER_LAG,
    JOB_ISSUES_PER_MINUTE,
)

# --- AWS's own -------------------------------------------------------------------------------
SQS = "AWS/SQS"
SQS_VISIBLE = "ApproximateNumberOfMessagesVisible"
SQS_OLDEST_AGE = "ApproximateAgeOfOldestMessage"
LAMBDA = "AWS/Lambda"
LAMBDA_ERRORS = "Errors"
LAMBDA_THROTTLES = "Throttles"
LAMBDA_DURATION = "Duration"
LAMBDA_CONCURRENCY = "ConcurrentExecutions"
API = "AWS/ApiGateway"
API_5XX = "5XXError"
API_4XX = "4XXError"
API_LATENCY = "Latency"
API_COUNT = "Count"
