"""What can go wrong with a sync script, told so an admin can fix it.

    ScriptError            the script cannot run or failed; ``kind``, ``line``, ``script``
    └── ScriptFailed       raised by a sync worker: a script failure is deterministic, so
                           the queue records it at once (``PermanentFailure``), on its issue

``kind`` is one of ``syntax`` | ``policy`` (refused on save) | ``runtime`` (the script
raised) | ``timeout`` | ``memory`` | ``output`` (result too large or not data) |
``result`` (the result is not what the sync needs) | ``runner`` (the sandbox itself failed).
"""

from __future__ import annotations

from typing import Any

from chalicelib.queues import PermanentFailure

KINDS = ("syntax", "policy", "runtime", "timeout", "memory", "output", "result", "runner")


class ScriptError(Exception):
    """A script did not compile, broke a rule, ran out of a limit or raised."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "runtime",
        line: int | None = None,
        script: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.line = line
        self.script = script

    def __str__(self) -> str:
        where = self.script or "script"
        if self.line is not None:
            where = f"{where} line {self.line}"
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "line": self.line}

    @classmethod
    def from_json(cls, data: Any, *, script: str | None = None) -> ScriptError:
        if not isinstance(data, dict):
            return cls("the script runner answered nonsense", kind="runner", script=script)
        line = data.get("line")
        kind = data.get("kind") if data.get("kind") in KINDS else "runner"
        return cls(
            str(data.get("message") or "the script failed"),
            kind=str(kind),
            line=line if isinstance(line, int) else None,
            script=script,
        )


class ScriptFailed(ScriptError, PermanentFailure):
    """A script failed inside a sync worker: an error record on that issue, no retries."""

    def __init__(
        self,
        error: ScriptError,
        *,
        connection_id: str | None = None,
        issue_key: str | None = None,
        local_key: str | None = None,
    ) -> None:
        ScriptError.__init__(
            self, error.message, kind=error.kind, line=error.line, script=error.script
        )
        self.connection_id = connection_id
        self.issue_key = issue_key
        self.local_key = local_key
