"""Jira's error answers: one exception type turned into a response in exactly one place.

Bodies follow Jira's ``ErrorCollection``: ``{"errorMessages": [...], "errors": {field: msg}}``.
A few Jira answers are not JSON (the XSRF 403 is plain text); ``text`` carries those.
"""

from __future__ import annotations

from collections.abc import Mapping


class JiraError(Exception):
    """An HTTP error answer in Jira's shape."""

    def __init__(
        self,
        status: int,
        messages: list[str] | None = None,
        errors: Mapping[str, str] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        text: str | None = None,
    ) -> None:
        super().__init__(f"{status}: {messages or errors or text}")
        self.status = status
        self.messages = list(messages or [])
        self.errors = dict(errors or {})
        self.headers = dict(headers or {})
        self.text = text

    def body(self) -> dict[str, object]:
        return {"errorMessages": self.messages, "errors": self.errors}


def bad_request(message: str | None = None, **errors: str) -> JiraError:
    return JiraError(400, [message] if message else [], errors)


def field_errors(errors: Mapping[str, str]) -> JiraError:
    return JiraError(400, [], errors)


def not_found(message: str) -> JiraError:
    return JiraError(404, [message])


def issue_not_found() -> JiraError:
    return not_found("Issue does not exist or you do not have permission to see it.")


def unauthorized() -> JiraError:
    return JiraError(
        401,
        ["Client must be authenticated to access this resource."],
        headers={"WWW-Authenticate": 'Basic realm="protected-area"'},
    )
