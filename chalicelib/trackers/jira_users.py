"""Issue 18: users (find by e-mail address or id) and who an issue is assigned to or
reported by, a mixin of ``JiraTracker``. Cloud names users by ``accountId``; the Server
adapter overrides the hooks (``user_search_params``, ``user_params``, ``user_ref``,
``nobody_ref``) for ``username``/``key``/``name``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.trackers.base import TrackerError, User
from chalicelib.trackers.jira_part import JiraPart


def account(data: Any, parse: Any) -> User | None:
    """``parse``'s user with its e-mail address when Jira shows one."""
    user = parse(data)
    email = data.get("emailAddress") if isinstance(data, Mapping) else None
    if user is None or not email:
        return user
    return User(user.id, user.name, str(email), user.username)


class JiraUsers(JiraPart):
    """User lookups and assignment, Cloud's way by default."""

    def user_search_params(self, text: str) -> dict[str, Any]:
        """Cloud's ``query``; Server overrides with ``username``."""
        return {"query": text, "maxResults": 50}

    def user_params(self, user_id: str) -> dict[str, Any]:
        """How ``GET user`` names ``User.id``: Cloud's ``accountId``; Server's ``key``."""
        return {"accountId": user_id}

    def find_user_by_email(self, email: str) -> User | None:
        listed = self.http.json(
            "GET", f"{self.api}/user/search", params=self.user_search_params(email)
        )
        people = [u for u in listed or () if isinstance(u, Mapping) and u.get("active", True)]
        low = email.strip().lower()
        for data in people:
            if str(data.get("emailAddress") or "").lower() == low:
                return account(data, self.parse_author)
        hidden = [u for u in people if not u.get("emailAddress")]
        # Cloud finds a profile that hides its address by the whole address, and shows none
        return account(hidden[0], self.parse_author) if len(hidden) == 1 == len(people) else None

    def get_user(self, user_id: str) -> User:
        data = self.http.json("GET", f"{self.api}/user", params=self.user_params(user_id))
        user = account(data, self.parse_author)
        if user is None:
            raise TrackerError(f"Jira did not describe the user {user_id}")
        return user

    def user_ref(self, user_id: str) -> dict[str, Any]:
        """How a write names a user: Cloud's ``{"accountId"}``; Server overrides."""
        return {"accountId": user_id}

    def nobody_ref(self) -> dict[str, Any]:
        """How ``PUT assignee`` says "unassigned": Cloud ``{"accountId": null}``."""
        return {"accountId": None}

    def set_assignee(self, key: str, user_id: str | None) -> None:
        body = self.user_ref(user_id) if user_id else self.nobody_ref()
        self.http.json("PUT", self._issue_path(key, "assignee"), json=body)

    def set_reporter(self, key: str, user_id: str) -> None:
        payload = {"fields": {"reporter": self.user_ref(user_id)}}
        self.http.json("PUT", self._issue_path(key), json=payload)
