"""What the console says when the admin API refuses: one table of code → sentence.

The API's own messages are written for API clients (they name fields and paths); an
administrator clicking through the console reads these instead. A code missing from the
table falls back to the API's message, so a new refusal is never silent.
"""

from __future__ import annotations

from chalicelib.console.client import ApiAnswer

SENTENCES: dict[str, str] = {
    # signing in
    "missing_token": "Enter this node's admin token.",
    "invalid_token": "That is not this node's admin token. Check it and try again.",
    # initiate connection
    "private_node_cannot_initiate": (
        "This node is private (it has no public URL), so a partner could never reach it. "
        "Ask the partner's administrator to initiate the connection, then accept their "
        "invitation here."
    ),
    "mode_not_available": "The destination instance does not offer this configuration type.",
    "destination_url_not_allowed": (
        "This node may not call that destination URL. Check the URL, or choose "
        "\u201cI don't have a URL\u201d."
    ),
    "destination_unreachable": (
        "The destination instance could not be reached as a Twinsync node. Check the URL, or "
        "choose \u201cI don't have a URL\u201d and send the invitation code instead."
    ),
    "connection_name_taken": "A connection with this name already exists. Choose another name.",
    "unknown_project": "That project does not exist in this node's tracker.",
    "use_a_local_connection": (
        "This invitation comes from this same node. To connect two of its projects, "
        "initiate a connection with this node's own URL."
    ),
    "visual_needs_public_nodes": (
        "Visual mode needs both instances to be reachable, and one of them is private. "
        "Choose Basic or Script."
    ),
    # accept invitation
    "invalid_invitation_code": (
        "This is not a valid invitation code. Paste the whole code you were given."
    ),
    "invitation_altered": "The invitation code was changed or cut. Paste the whole code again.",
    "invitation_checksum_mismatch": (
        "The invitation code was changed or cut. Paste the whole code again."
    ),
    "invitation_expired": (
        "The invitation code has expired. Ask the other administrator for a new one."
    ),
    "invitation_used": "This invitation code has already been used. Ask for a new one.",
    "invitation_unknown": (
        "The instance that issued this code no longer knows it (it may have been deleted). "
        "Ask for a new one."
    ),
    "invitation_for_another_node": "This invitation code was issued for another instance.",
    "initiator_unreachable": (
        "The instance that issued the invitation could not be reached. Try again later."
    ),
    "initiator_url_not_allowed": "This node may not call the instance that issued the code.",
    "unsupported_protocol": (
        "The invitation comes from a Twinsync version this node does not understand."
    ),
    "handshake_conflict": "The other instance refused the invitation. Ask for a new code.",
    # sync your first issue
    "issue_not_found": "No issue with that key was found in this node's tracker.",
    "issue_not_readable": "The integration user may not read that issue.",
    "connection_not_active": (
        "The connection is not active yet: issues sync once the partner has accepted."
    ),
    "connection_pending": ("The connection is waiting for the partner to accept the invitation."),
    "connection_deactivated": "The connection is deactivated. Activate it to sync.",
    "connection_not_found": "This connection does not exist (any more).",
    "twin_not_found": "That issue is not synced by this connection.",
    # connect issues, stop syncing
    "local_issue_not_found": (
        "No issue with that local issue key was found in this node's tracker. Check the key."
    ),
    "local_issue_not_readable": "The integration user may not read that local issue.",
    "remote_issue_not_found": (
        "The other instance has no issue with that remote issue key (or its integration user "
        "cannot read it). Check the key: it is an issue of the other instance's tracker."
    ),
    "remote_issue_already_synced": (
        "That remote issue is already synced with another issue. Stop syncing it first, or "
        "choose another remote issue."
    ),
    "already_synced": (
        "One of these issues is already synced with another issue in this connection. Stop "
        "syncing it first, or choose other issues."
    ),
    "twin_busy": "The issue is being synced right now. Try again in a few seconds.",
    # errors of a connection
    "error_not_found": "This error no longer exists. Reload the page.",
    "error_closed": "This error was already retried or resolved. Reload the page.",
    "error_not_retryable": (
        "This error cannot be retried: its work cannot be sent again. Resolve it instead."
    ),
    "tracker_unavailable": "The tracker did not answer. Try again in a moment.",
    "remote_refused": "The other instance refused the request.",
    "other_side_unreachable": "The other instance could not be reached. Try again later.",
    # triggers, bulk jobs, drift scans
    "trigger_not_found": "This trigger no longer exists. Reload the page.",
    "job_not_found": "This job does not exist on this node (any more).",
    "job_finished": "This job has already finished: there is nothing to cancel.",
    "peer_is_private": (
        "The other end of this connection is a private node, which this node cannot call: "
        "start the drift scan on the private node."
    ),
    "scan_not_finished": "The drift scan has not finished yet: repair once it is done.",
    "nothing_to_repair": "The drift scan found no drifted twin: there is nothing to repair.",
    # a connection's settings
    "remote_deleted": (
        "The other side deleted its end of this connection, so it cannot be activated. "
        "Delete it and initiate a new connection."
    ),
    "concurrent_change": "The connection changed meanwhile. Reload the page and try again.",
    "key_service_failed": "This node could not open the connection's key. Try again later.",
    # notifications
    "notification_url_not_allowed": (
        "This node may not call that URL: a notification webhook must be an https URL on the "
        "internet (not a private or local address)."
    ),
    "notification_url_unreachable": (
        "That webhook URL could not be found (its host name does not resolve). Check it."
    ),
    "webhook_exists": "This URL is already a notification webhook.",
    "too_many_webhooks": "A node has at most 5 notification webhooks. Delete one first.",
    "webhook_not_found": "This notification webhook no longer exists. Reload the page.",
    # a connection's rules (Rules tab)
    "rules_not_editable_in_basic_mode": (
        "Basic rules cannot be edited. Upgrade the connection to Script to edit them."
    ),
    "rules_not_in_this_mode": "These rules do not belong to this connection's mode.",
    "mode_change_not_allowed": "Only a Basic connection can be upgraded, and only to Script.",
    "visual_other_side_unreachable": (
        "The other side's mappings cannot be set from here: the partner has not accepted "
        "the invitation yet, or the other side is private. Configure only this side."
    ),
    "visual_refused_by_other_side": (
        "The other side refused these mappings, so nothing changed on either side."
    ),
    "script_runner_unavailable": "The scripts could not be run just now. Try again in a moment.",
    "invalid_replica": (
        "The replica is not one the other side could send. Check its fields, or leave it empty."
    ),
}

# The words the console's forms use for the API's fields.
FIELD_LABELS: dict[str, str] = {
    "destination_url": "Destination instance URL",
    "url": "URL",  # the destination's (wizard) or a notification webhook's: one a form
    "destination_incoming_project": "project for the destination's incoming sync",
    "mode": "configuration type",
    "local_short_name": "Local instance short name",
    "remote_short_name": "Remote instance short name",
    "name": "Connection name",
    "description": "Description",
    "incoming_project": "project for the incoming sync",
    "admin_access": "admin access",
    "invitation_code": "Invitation code",
    "issue_key": "Issue key",
    "jql": "JQL query",
    "note": "Note",
    "pairs": "Pairs",
    "csv": "Pairs",
    "max_per_hour": "Most issues an hour",
    "events": "Tell me when",
    "on_twin_deleted": "Deletion policy",
    "reason": "Reason",
    "local_key": "Local issue",
    "remote_key": "Remote issue",
    "incoming_guard_jql": "Incoming guard (JQL)",
    "private_comment_visibility": "Who may read internal comments",
    "private_comment_visibility.type": "Who may read internal comments",
    "private_comment_visibility.value": "Role or group name",
}


def sentence(answer: ApiAnswer) -> str:
    """What to tell the administrator about a refusal."""
    code = answer.code or ""
    if code in SENTENCES:
        return SENTENCES[code]
    if code in ("missing_field", "invalid_field", "unknown_field", "invalid_request"):
        label = FIELD_LABELS.get(answer.field or "")
        if label:
            return f"Check \u201c{label}\u201d: {answer.message}"
    if answer.status >= 500:
        return "Something went wrong on this node; it is logged. Try again."
    return answer.message or "The request was refused."
