"""Admin webhooks fired the way Jira fires them, delivered from a background thread.

Bodies use the REST v2 shapes in both flavours (real Cloud does this too) and are rendered
at the moment of the change, so they show the issue as it was then. Each delivery has its
own ``X-Atlassian-Webhook-Identifier``, kept on retries; retries carry
``X-Atlassian-Webhook-Retry: N``. Cloud signs the raw body (``X-Hub-Signature: sha256=…``);
Server cannot sign, so the secret travels as ``?secret=`` on the URL. Delivery never blocks
nor fails the REST call that caused it.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from .errors import JiraError
from .render import Renderer
from .render_relations import webhook_link, worklog
from .search import compile_jql
from .store import Change, Store, WebhookRec

EVENTS = (
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "attachment_created",
    "attachment_deleted",
    # issue 18
    "issuelink_created",
    "issuelink_deleted",
    "worklog_created",
    "worklog_updated",
    "worklog_deleted",
)
NO_ISSUE_EVENTS = ("attachment_", "issuelink_")  # bodies without an issue: no JQL filter


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def with_secret(url: str, secret: str) -> str:
    parts = urlsplit(url)
    query = (parts.query + "&" if parts.query else "") + urlencode({"secret": secret})
    return urlunsplit(parts._replace(query=query))


@dataclass(order=True)
class Delivery:
    due: float
    seq: int
    hook_id: str = field(compare=False)
    event: str = field(compare=False)
    url: str = field(compare=False)
    body: bytes = field(compare=False)
    headers: dict[str, str] = field(compare=False)
    identifier: str = field(compare=False)
    attempt: int = field(default=0, compare=False)


class WebhookPublisher:
    """Turns store changes into deliveries and sends them, retrying failed ones."""

    def __init__(
        self,
        store: Store,
        renderer: Renderer,
        *,
        backoff: Sequence[float] = (0.2, 0.5, 1.0),
        timeout: float = 5.0,
        send: Callable[[urllib.request.Request, float], int] | None = None,
    ) -> None:
        self.store = store
        self.renderer = renderer
        self.backoff = list(backoff)
        self.timeout = timeout
        self.send = send or _send
        self.queue: list[Delivery] = []
        self.cond = threading.Condition()
        self.in_flight = 0
        self.seq = itertools.count()
        self.log: deque[dict[str, Any]] = deque(maxlen=2000)
        self.thread: threading.Thread | None = None
        self.stopping = False

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        if self.thread:
            self.thread.join(timeout=5)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or being sent (retries included); False on timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.queue or self.in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.05))
        return True

    def clear(self) -> None:
        with self.cond:
            self.queue.clear()
            self.log.clear()

    # --- publishing ---------------------------------------------------------------------

    def __call__(self, changes: list[Change]) -> None:
        hooks = [h for h in self.store.webhooks.values() if h.enabled]
        for change in changes:
            if change.event.startswith("attachment_") and not self.renderer.cloud:
                continue
            body: bytes | None = None
            for hook in hooks:
                if not self._wants(hook, change):
                    continue
                if body is None:
                    payload = self.payload(change)
                    body = json.dumps(payload, separators=(",", ":")).encode()
                self._enqueue(hook, change.event, body)

    def _wants(self, hook: WebhookRec, change: Change) -> bool:
        if hook.events and change.event not in hook.events:
            return False
        if not hook.jql or change.event.startswith(NO_ISSUE_EVENTS):
            return True
        try:
            compiled = compile_jql(self.store, hook.jql, change.actor.id)
        except JiraError:
            return False
        return compiled.predicate(self.store.doc(change.issue))

    def _enqueue(self, hook: WebhookRec, event: str, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "User-Agent": "Atlassian Webhook HTTP Client",
        }
        url = hook.url
        if hook.secret:
            if self.renderer.cloud:
                headers["X-Hub-Signature"] = sign(hook.secret, body)
            else:
                url = with_secret(url, hook.secret)
        delivery = Delivery(
            due=time.monotonic(),
            seq=next(self.seq),
            hook_id=hook.id,
            event=event,
            url=url,
            body=body,
            headers=headers,
            identifier=str(uuid.uuid4()),
        )
        with self.cond:
            heapq.heappush(self.queue, delivery)
            self.cond.notify_all()

    # --- payloads -----------------------------------------------------------------------

    def payload(self, change: Change) -> dict[str, Any]:
        """The webhook body for one change, in the REST v2 shapes of the real payloads."""
        r = self.renderer
        data: dict[str, Any] = {"timestamp": change.timestamp, "webhookEvent": change.event}
        user = r.user(change.actor, 2)
        if change.event.startswith("comment_"):
            assert change.comment is not None
            if r.cloud:
                data["comment"] = r.comment(change.comment, 2)
                data["issue"] = r.webhook_issue(change.issue, trimmed=True)
            else:
                if change.event != "comment_created":
                    data["user"] = user
                data["comment"] = r.comment(change.comment, 2)
            return data
        if change.event.startswith("issuelink_"):
            data["issueLink"] = webhook_link(r, change.link)
            return data
        if change.event.startswith("worklog_"):
            data["worklog"] = worklog(r, change.worklog, 2)
            return data
        if change.event.startswith("attachment_"):
            assert change.attachment is not None
            data["attachment"] = r.attachment(change.attachment, 2)
            return data
        if change.event != "jira:issue_deleted":
            data["issue_event_type_name"] = change.type_name
        data["user"] = user
        data["issue"] = r.webhook_issue(change.issue)
        if change.comment is not None:
            data["comment"] = r.comment(change.comment, 2)
        elif change.history is not None:
            data["changelog"] = {"id": change.history.id, "items": change.history.items}
        return data

    # --- delivery -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.stopping and (
                    not self.queue or self.queue[0].due > time.monotonic()
                ):
                    wait = self.queue[0].due - time.monotonic() if self.queue else None
                    self.cond.wait(wait if wait is None else max(wait, 0.001))
                if self.stopping:
                    return
                delivery = heapq.heappop(self.queue)
                self.in_flight += 1
            try:
                self._attempt(delivery)
            finally:
                with self.cond:
                    self.in_flight -= 1
                    self.cond.notify_all()

    def _attempt(self, delivery: Delivery) -> None:
        hook = self.store.webhooks.get(delivery.hook_id)
        if delivery.attempt and (hook is None or not hook.enabled):
            return  # as Jira: a webhook deleted or disabled meanwhile gets no more retries
        headers = dict(delivery.headers)
        headers["X-Atlassian-Webhook-Identifier"] = delivery.identifier
        if delivery.attempt:
            headers["X-Atlassian-Webhook-Retry"] = str(delivery.attempt)
        # the admin API accepts only http(s) URLs, so urllib never opens a file: URL here
        request = urllib.request.Request(  # noqa: S310
            delivery.url, data=delivery.body, headers=headers, method="POST"
        )
        status: int | None = None
        error: str | None = None
        try:
            status = self.send(request, self.timeout)
        except Exception as exc:  # unreachable, timeout, reset: all retried alike
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        self.log.append(
            {
                "webhook_id": delivery.hook_id,
                "event": delivery.event,
                "url": delivery.url,
                "identifier": delivery.identifier,
                "retry": delivery.attempt,
                "status": status,
                "error": error,
                "ok": ok,
            }
        )
        if ok or delivery.attempt >= len(self.backoff):
            return
        delay = self.backoff[delivery.attempt]
        delivery.attempt += 1
        delivery.due = time.monotonic() + delay
        with self.cond:
            heapq.heappush(self.queue, delivery)
            self.cond.notify_all()


def _send(request: urllib.request.Request, timeout: float) -> int:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
