"""When this end last reached a connection's peer, and when (and why) it last failed to.

The pull loop of a private node and the push of a public one note every answer and every
failure here, so the health report can say that a peer is unreachable, and since when,
without waiting for a change to pile up. Two small items per connection in the keys table
(the last answer, the last failure), each noted with one write and no read.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime

import msgspec

from chalicelib.store.keys import get_key, set_key
from chalicelib.store.models import utcnow
from chalicelib.store.namespaces import peer_contact_key, peer_failure_key

log = logging.getLogger("twinsync.peer_contact")


class Contact(msgspec.Struct, frozen=True):
    """The last answer and the last failure; ``reachable`` when the answer came later."""

    reached_at: datetime | None = None
    failed_at: datetime | None = None
    error: str | None = None

    @property
    def reachable(self) -> bool | None:
        if self.failed_at is None:
            return True if self.reached_at is not None else None
        return self.reached_at is not None and self.reached_at > self.failed_at

    def dump(self) -> str:
        return json.dumps(
            {
                "reached_at": self.reached_at.isoformat() if self.reached_at else None,
                "failed_at": self.failed_at.isoformat() if self.failed_at else None,
                "error": self.error,
            }
        )

    @classmethod
    def load(cls, text: str | None) -> Contact:
        if not text:
            return cls()
        data = json.loads(text)

        def when(name: str) -> datetime | None:
            return datetime.fromisoformat(data[name]) if data.get(name) else None

        return cls(when("reached_at"), when("failed_at"), data.get("error"))


def contact(connection_id: str) -> Contact:
    reached = Contact.load(_value(peer_contact_key(connection_id)))
    failed = Contact.load(_value(peer_failure_key(connection_id)))
    if failed.failed_at is None:  # noted before the failure had an item of its own
        failed = reached
    return Contact(reached.reached_at, failed.failed_at, failed.error)


def _value(key: str) -> str | None:
    item = get_key(key)
    return item.value if item else None


def _save(key: str, value: Contact) -> bool:
    try:
        set_key(key, value.dump())
    except Exception:  # bookkeeping for the health report must never fail a sync
        log.warning("could not note the peer contact (%s)", key, exc_info=True)
        return False
    return True


def note_reached(connection_id: str) -> None:
    """One write, no read; none while this process noted an answer within
    :data:`REACHED_EVERY` and no failure since."""
    now = time.monotonic()
    last = _reached_noted.get(connection_id)
    if last is not None and now - last < REACHED_EVERY_S:
        return
    if _save(peer_contact_key(connection_id), Contact(reached_at=utcnow())):
        _reached_noted[connection_id] = now


def note_unreachable(connection_id: str, error: BaseException | str) -> None:
    _reached_noted.pop(connection_id, None)  # the next answer is noted at once
    _save(peer_failure_key(connection_id), Contact(failed_at=utcnow(), error=str(error)[:500]))


# Issue 19: a busy connection answers many times a minute; noting each answer cost a read
# and a write per delivery. The answer and the failure are now items of their own (each
# note one blind write) and a process notes an answer at most every REACHED_EVERY_S. The
# cost: a failure noted by another process can show for that long after this one got an
# answer again (the report's "reachable" is as fresh as a minute, not a delivery).
REACHED_EVERY_S = 30.0
_reached_noted: dict[str, float] = {}
