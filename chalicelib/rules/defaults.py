"""The starting rules of a connection end in Script or Visual mode.

A Script end starts with scripts that do what Basic mode does (the reference pages: after
an upgrade "you can adapt the sync rules"). The script language belongs to the rules
package: when ``chalicelib.rules.script`` offers ``DEFAULT_OUTGOING`` and
``DEFAULT_INCOMING`` those are used; the texts below are the fallback until it does.
"""

from __future__ import annotations

FALLBACK_OUTGOING = """\
# Outgoing sync rules: what this side sends (issue -> replica).
replica["summary"] = issue["summary"]
replica["description"] = issue["description"]
replica["type"] = issue["type"]
replica["comments"] = issue["comments"]
replica["attachments"] = issue["attachments"]
"""

FALLBACK_INCOMING = """\
# Incoming sync rules: what this side does with what it receives (replica -> issue).
issue["summary"] = replica["summary"]
issue["description"] = replica["description"]
issue["type"] = get_issue_type(replica["type"]["name"])
issue["comments"] = merge_comments(previous, replica)
issue["attachments"] = merge_attachments(previous, replica)
"""


def default_scripts() -> tuple[str, str]:
    """``(outgoing, incoming)`` script texts for a new or upgraded Script end."""
    try:
        from chalicelib.rules import script

        return str(script.DEFAULT_OUTGOING), str(script.DEFAULT_INCOMING)
    except (ImportError, AttributeError):
        return FALLBACK_OUTGOING, FALLBACK_INCOMING
