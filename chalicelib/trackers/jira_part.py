"""What the issue-18 mixins of ``JiraTracker`` may use of it: one declaration for all.

``jira_relations``, ``jira_worklogs``, ``jira_catalog`` and ``jira_users`` each add one
kind of operation to :class:`~chalicelib.trackers.jira_common.JiraTracker`; they reach
Jira only through its request chokepoint (``http``) and its paths and bodies, declared
here for the type checker (``JiraTracker`` provides them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from chalicelib.trackers.base import Body, BodyFormat, User

if TYPE_CHECKING:
    from chalicelib.trackers.http import JiraHttp


class JiraPart:
    """The ``JiraTracker`` attributes a mixin uses."""

    api: ClassVar[str]
    http: JiraHttp
    body_format: BodyFormat

    if TYPE_CHECKING:  # JiraTracker's

        def _issue_path(self, key: str, *rest: str) -> str: ...

        def field_id(self, name: str) -> str: ...

        def field_ids(self, *, refresh: bool = False) -> dict[str, str]: ...

        def own_body(self, body: Body) -> Any: ...

        def parse_author(self, data: Any) -> User | None: ...
