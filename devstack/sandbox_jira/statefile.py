"""The sandbox site's state on disk: a snapshot plus an append-only journal of changes.

``sandbox-a.json`` is the whole state (as :meth:`Store.dump` gives it) with a
``generation``; ``sandbox-a.json.journal`` holds one JSON line per flush with the records
that flush changed, stamped with the snapshot's generation. A flush of a few edited issues
appends those issues, however large the site is: a write's cost follows the change, not
the state (rewriting everything on every flush made a site with a few hundred issues slow
for every caller). When the journal outgrows the snapshot, the next flush writes a new
snapshot (the write cost stays constant, amortised) and starts an empty journal.

Crash-safe: a snapshot is written to a temporary file, synced and renamed over the old
one; a journal line is appended whole and synced. On load, a torn last line (a crash in
the middle of an append) and lines of an older generation (a crash between a new
snapshot and the journal's truncation) are ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

COMPACT_MIN_BYTES = 1 << 20  # a journal smaller than this is never compacted


class StateFile:
    """One site's snapshot and journal; ``bytes_written`` counts what it wrote."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal = path.with_name(path.name + ".journal")
        self.generation = 0
        self.snapshot_bytes = 0
        self.journal_bytes = 0
        self.bytes_written = 0

    def load(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The snapshot (None: no file yet) and the journal entries to apply over it."""
        if not self.path.exists():
            return None, []
        text = self.path.read_text()
        data = json.loads(text)
        self.generation = int(data.pop("generation", 0))
        self.snapshot_bytes = len(text)
        entries: list[dict[str, Any]] = []
        self.journal_bytes = 0
        if self.journal.exists():
            for line in self.journal.read_bytes().splitlines(keepends=True):
                try:
                    entry = json.loads(line)
                except ValueError:
                    break  # a torn last line: its flush never completed
                if not line.endswith(b"\n"):
                    break
                self.journal_bytes += len(line)
                if entry.pop("generation", None) == self.generation:
                    entries.append(entry)
        return data, entries

    def needs_snapshot(self) -> bool:
        return self.journal_bytes > max(COMPACT_MIN_BYTES, self.snapshot_bytes)

    def write_snapshot(self, data: dict[str, Any]) -> None:
        """Replace the snapshot atomically, then start an empty journal."""
        self.generation += 1
        text = json.dumps({**data, "generation": self.generation})
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-", suffix=".json", dir=folder)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        # lines of the old generation left by a crash here are ignored on load
        with self.journal.open("wb"):
            pass
        self.snapshot_bytes = len(text)
        self.journal_bytes = 0
        self.bytes_written += len(text)

    def append(self, entry: dict[str, Any]) -> None:
        """Append one flush's changes as one line."""
        line = (json.dumps({**entry, "generation": self.generation}) + "\n").encode()
        with self.journal.open("ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.journal_bytes += len(line)
        self.bytes_written += len(line)
