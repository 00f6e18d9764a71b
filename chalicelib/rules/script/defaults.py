"""The scripts a Script connection starts with: they do exactly what Basic mode does.

A test runs the same scenarios through these scripts and through :mod:`chalicelib.rules.basic`
and compares the results field by field, so "upgrade to Script" changes nothing until the
admin edits them.
"""

from __future__ import annotations

DEFAULT_OUTGOING = """\
# Outgoing sync rules: what this side sends (issue -> replica).
# `issue` is this side's issue; `replica` is what the other side receives.
# Examples: replica.labels = issue.labels
#           replica.priority = issue.priority
#           replica.status = issue.status
#           replica.fields["Customer"] = issue.fields["Customer"]   (custom fields by name)
#           replica.attachments = [a for a in issue.attachments if a.size < 10_000_000]
replica.summary = issue.summary
replica.description = issue.description
replica.type = issue.type
replica.comments = issue.comments
replica.attachments = issue.attachments
"""

DEFAULT_INCOMING = """\
# Incoming sync rules: what this side does with what it receives (replica -> issue).
# Set attributes of `issue` to write them; what is not set is left as it is.
# `changed(name)` is true on the first sync and when the replica's field differs
# from the last replica applied (`previous`), so local edits are not overwritten.
# Examples: issue.type = {"Bug": "Problem"}.get(replica.type.name, "Task")
#           issue.labels = replica.labels
#           issue.fields["Customer"] = replica.fields["Customer"]   (by name, or by id)
#           if changed("status") and replica.status:   # through a workflow transition
#               issue.status = {"Closed": "Done"}.get(replica.status.name, replica.status)
#           issue.comments = merge_comments(public=False)
if changed("summary"):
    issue.summary = replica.summary
if changed("description"):
    issue.description = replica.description
if changed("type"):
    issue.type = get_issue_type(replica.type)
issue.comments = merge_comments(replica.comments)
issue.attachments = merge_attachments(replica.attachments)
"""
