"""When this end last reached a connection's peer, and when (and why) it last failed to.

The pull loop of a private node and the push of a public one note every answer and every
failure here, so the health report can say that a peer is unreachable, and since when,
without waiting for a change to pile up. One small item per connection in the keys table.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from chalicelib.store.keys import get_key, set_key
from chalicelib.store.models import utcnow
from chalicelib.store.namespaces import peer_contact_key

log = logging.getLogger("twinsync.peer_contact")


@dataclass(frozen=True)
class Contact:
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
    item = get_key(peer_contact_key(connection_id))
    return Contact.load(item.value if item else None)


def _save(connection_id: str, value: Contact) -> None:
    try:
        set_key(peer_contact_key(connection_id), value.dump())
    except Exception:  # bookkeeping for the health report must never fail a sync
        log.warning("could not note the peer contact of %s", connection_id, exc_info=True)


def note_reached(connection_id: str) -> None:
    previous = contact(connection_id)
    _save(connection_id, Contact(utcnow(), previous.failed_at, previous.error))


def note_unreachable(connection_id: str, error: BaseException | str) -> None:
    previous = contact(connection_id)
    _save(connection_id, Contact(previous.reached_at, utcnow(), str(error)[:500]))
