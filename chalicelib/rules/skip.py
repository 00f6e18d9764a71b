"""A rule's way of saying "this issue does not sync now" (out of scope, direction disabled).

Raised by outgoing and incoming rules of any mode; the sync workers catch it and move on:
nothing is sent, nothing is written, and the twin's history says why.
"""

from __future__ import annotations


class SkipSync(Exception):
    """The rules decided that this issue does not sync; the message says why."""
