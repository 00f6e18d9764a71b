"""``SandboxAdmin``: a small client for the sandbox admin API, for tests and the devstack.

Standard library only (``urllib``), so the devstack can use it without extra packages.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class SandboxAdminError(Exception):
    """The admin API refused a call; ``status`` and ``body`` say why."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"sandbox admin API answered {status}: {body}")
        self.status = status
        self.body = body


class SandboxAdmin:
    """Calls ``{url}/_sandbox/...``; ``secret`` is sent as ``X-Sandbox-Admin`` when given."""

    def __init__(self, url: str, *, secret: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.secret = secret
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.secret:
            headers["X-Sandbox-Admin"] = self.secret
        target = f"{self.url}/_sandbox/{path.lstrip('/')}"
        if not target.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {target}")
        request = urllib.request.Request(target, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            raise SandboxAdminError(exc.code, json.loads(raw) if raw else None) from exc
        return json.loads(raw) if raw else None

    # --- setup --------------------------------------------------------------------------

    def create_project(
        self,
        key: str,
        name: str | None = None,
        *,
        issue_types: list[str] | None = None,
        default_issue_type: str | None = None,
        lead: str | None = None,
        workflow: dict[str, Any] | None = None,
        screens: dict[str, Any] | None = None,
        components: list[str] | None = None,
        versions: list[str] | None = None,
    ) -> dict[str, Any]:
        """``workflow``: ``{"statuses": [...], "transitions": [...]}`` (see workflow.py);
        without it the project gets To Do ⇄ In Progress ⇄ Done. ``screens``:
        ``{"create": [...], "edit": [...], "required": [...]}`` (see screens.py).
        ``components``/``versions``: names the project starts with (issue 18)."""
        body: dict[str, Any] = {"key": key, "name": name or key}
        if components is not None:
            body["components"] = components
        if versions is not None:
            body["versions"] = versions
        if issue_types is not None:
            body["issue_types"] = issue_types
        if default_issue_type is not None:
            body["default_issue_type"] = default_issue_type
        if lead is not None:
            body["lead"] = lead
        if workflow is not None:
            body["workflow"] = workflow
        if screens is not None:
            body["screens"] = screens
        return self.call("POST", "projects", body)

    def create_field(
        self, name: str, *, field_type: str = "string", field_id: str | None = None
    ) -> dict[str, Any]:
        """Define a custom field (``{id, name, type}``); ``field_id`` picks its id."""
        body: dict[str, Any] = {"name": name, "type": field_type}
        if field_id is not None:
            body["id"] = field_id
        return self.call("POST", "fields", body)

    def fields(self) -> list[dict[str, Any]]:
        return self.call("GET", "fields")

    def ensure_field(self, name: str, *, field_type: str = "string") -> dict[str, Any]:
        """The custom field named ``name``, defined first if the site lacks it."""
        for item in self.fields():
            if item["name"].lower() == name.lower():
                return item
        try:
            return self.create_field(name, field_type=field_type)
        except SandboxAdminError as exc:  # defined meanwhile by someone else
            if exc.status != 409:
                raise
            return next(f for f in self.fields() if f["name"].lower() == name.lower())

    def create_user(
        self,
        *,
        display_name: str,
        email: str | None = None,
        name: str | None = None,
        token: str | None = None,
        password: str | None = None,
        account_id: str | None = None,
        groups: list[str] | None = None,
        email_visible: bool | None = None,
    ) -> dict[str, Any]:
        """Cloud: ``email`` + API ``token``; Server: ``name`` + personal access ``token``.
        ``groups`` (None: the default groups) decide which restricted comments it sees;
        ``email_visible=False``: a Cloud profile that hides its e-mail address."""
        body = {
            "email_visible": email_visible,
            "display_name": display_name,
            "email": email,
            "name": name,
            "token": token,
            "password": password,
            "account_id": account_id,
            "groups": groups,
        }
        return self.call("POST", "users", {k: v for k, v in body.items() if v is not None})

    def add_webhook(
        self,
        url: str,
        *,
        secret: str | None = None,
        events: list[str] | None = None,
        jql: str | None = None,
        enabled: bool = True,
        name: str = "",
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"url": url, "enabled": enabled, "name": name}
        if secret is not None:
            body["secret"] = secret
        if events is not None:
            body["events"] = events
        if jql is not None:
            body["jql"] = jql
        return self.call("POST", "webhooks", body)

    def set_webhook(self, webhook_id: str, **changes: Any) -> dict[str, Any]:
        """Change a webhook, e.g. ``set_webhook(id, enabled=False)`` to switch it off."""
        return self.call("PATCH", f"webhooks/{webhook_id}", changes)

    def delete_webhook(self, webhook_id: str) -> None:
        self.call("DELETE", f"webhooks/{webhook_id}")

    def webhooks(self) -> list[dict[str, Any]]:
        return self.call("GET", "webhooks")

    def deliveries(self, *, wait: float = 0.0) -> dict[str, Any]:
        """Webhook delivery attempts; ``wait`` seconds for pending ones (and retries) first."""
        return self.call("GET", f"webhooks/deliveries?wait={wait}")

    def set_status(self, issue_key: str, status: str, *, user: str | None = None) -> Any:
        body = {"status": status} if user is None else {"status": status, "user": user}
        return self.call("POST", f"issues/{issue_key}/status", body)

    def settings(self, **values: Any) -> dict[str, Any]:
        return self.call("POST", "settings", values)

    # --- faults and observation ---------------------------------------------------------

    def faults(self, **settings: Any) -> dict[str, Any]:
        """Set faults: ``latency_ms``, ``error_rate``, ``error_status``, ``fail_next``,
        ``rate_limit_next``, ``retry_after``, ``attachment_limit``, ``match``, ``method``."""
        return self.call("POST", "faults", settings)

    def clear_faults(self) -> dict[str, Any]:
        return self.call("DELETE", "faults")

    def reset(self, *, config: bool = True) -> None:
        self.call("POST", "reset", {"config": config})

    def request_counts(self) -> dict[str, dict[str, int]]:
        """``{user id: {"METHOD /route": n, ..., "total": n}}`` since the last clear."""
        return self.call("GET", "requests")["counts"]

    def requests(self) -> list[dict[str, Any]]:
        return self.call("GET", "requests")["requests"]

    def clear_requests(self) -> None:
        self.call("DELETE", "requests")

    def state(self) -> dict[str, Any]:
        return self.call("GET", "state")

    def health(self) -> dict[str, Any]:
        return self.call("GET", "health")
