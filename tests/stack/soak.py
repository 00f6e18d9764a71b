"""The chaos soak: many changes both ways through the local stack, with faults, then the
twins compared through both sandbox trackers (the ground truth).

Used by ``bench/soak.py`` (2,000 changes by default) and ``tests/stack/test_soak.py`` (a
small run that asserts zeros). ``run_soak(stack, info, plan)`` does everything:

1. **Setup**: fresh projects on both sandbox trackers; node a (Cloud) connected to node c
   (Server, public) and to node b (Server, private); ``plan.twins`` issues made on either
   side and synced; the pipeline left to go quiet.
2. **Changes**, paced at ``plan.rate`` per second, in rounds (each twin changed once per
   round, in a seeded random order, so that two changes of one twin are far apart unless a
   fault holds one back): summary and description edits, comments added, edited and
   deleted, attachments added, the same field edited on both sides at once (a conflict:
   the later edit must win on both), and a field edited on one side while the other side's
   change is being applied (both must survive).
3. **Faults**, by progress through the changes: every webhook delivered one to three times
   in shuffled order, some dropped (the reconcile sweep must find them); a 429 storm with
   ``Retry-After`` and 5xx on the trackers (the sandbox's fault injection); node c down
   and back; webhooks off on tracker a; a tracker write whose answer is lost (the write
   lands, the worker sees a 503 and never records it: what a worker killed between a
   write and its record leaves behind); the private node b away and back.
4. **Quiet**: an observable condition, bounded: no webhook waiting (sandbox or chaos
   replays), every node queue empty (visible, in flight, delayed), nothing pending in the
   soak connections' outboxes and inboxes, and that still so after two reconcile sweeps
   on every node.
5. **Compare** every twin pair through the trackers: summary equal (and the expected last
   edit), description equal as plain text (through ``chalicelib.trackers.formats``), every
   person's comment mirrored exactly once (text included; deleted ones gone), attachments
   copied once each, issues not doubled; each planned conflict recorded alike on both ends.

Nothing here asserts; the result says what was seen and the callers judge it.
"""

from __future__ import annotations

import heapq
import json
import random
import re
import string
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.trackers.base import (
    Body,
    IssueFields,
    RateLimited,
    TrackerError,
    Unavailable,
)
from chalicelib.trackers.formats import adf_to_text, wiki_to_adf
from devstack.stack import INTEGRATION_USER, LocalStack
from tests.stack.conftest import NodeClient, connect, tracker_as, twin_key

# --- the plan --------------------------------------------------------------------------


@dataclass(frozen=True)
class SoakPlan:
    """What to run: sizes, pace, seed and fault knobs."""

    changes: int = 2000
    twins: int = 200
    seed: int = 1
    rate: float = 6.0  # changes per second, at most
    private_share: float = 0.2  # twins on the private connection (a ↔ b)
    drop_rate: float = 0.03  # webhooks dropped
    max_copies: int = 3  # each webhook delivered 1..max_copies times
    spread_s: float = 1.5  # copies sent within this many seconds, in shuffled order
    min_window_s: float = 6.0  # a fault window lasts at least this long
    quiet_timeout_s: float = 600.0
    progress: bool = False  # print progress lines


OPS = (
    ("summary", 18),
    ("description", 12),
    ("comment_add", 20),
    ("comment_edit", 10),
    ("comment_delete", 6),
    ("attachment_add", 10),
    ("conflict", 12),
    ("edit_during_apply", 12),
)

# fault windows, as (start, end) fractions of the change stream
WINDOWS = {
    "rate_limit_storm": (0.10, 0.18),
    "tracker_5xx": (0.20, 0.30),
    "peer_down": (0.34, 0.44),
    "webhooks_off": (0.50, 0.60),
    "lost_answers": (0.62, 0.72),
    "private_away": (0.76, 0.86),
}


# the soak's projects: role -> tracker (a-c: node a's side of the public connection, c:
# node c's; a-b and b: the private connection's)
ROLE_TRACKER = {"a-c": "a", "c": "b", "a-b": "a", "b": "b"}


# --- the model of what each twin should look like --------------------------------------


@dataclass
class Side:
    node: str  # node name: a, b, c
    tracker: str  # tracker name: a, b
    project: str
    person: Any  # Alice's client on that tracker
    body_format: str  # adf | wiki


@dataclass
class Edit:
    text: str
    side: int  # 0 or 1: which side of the twin made it
    at: float  # monotonic time it was made
    wall: float = 0.0  # wall-clock time it was made (to read beside the trackers' times)


@dataclass
class Twin:
    index: int
    cid: str
    sides: tuple[Side, Side]
    keys: list[str]
    summary: Edit
    description: Edit
    comments: dict[str, tuple[int, str, str | None]] = field(default_factory=dict)  # tag ->
    # (side, comment id, text or None when deleted)
    attachments: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (side, size)


@dataclass
class PlannedConflict:
    twin: Twin
    field: str
    first: Edit
    later: Edit


@dataclass
class SoakResult:
    plan: SoakPlan
    changes_made: int = 0
    changes_arrived: int = 0
    duplicates: Counter[str] = field(default_factory=Counter)  # issues, comments, attachments
    lost: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    explained: list[str] = field(default_factory=list)  # documented limits, with evidence
    conflicts_made: int = 0
    conflicts_recorded_alike: int = 0
    conflicts_not_alike: list[str] = field(default_factory=list)
    conflicts_unplanned: int = 0
    conflicts_not_concurrent: int = 0
    # one of the two edits was replaced on its own side by a newer edit before the other
    # edit arrived there (or before it was ever read and sent): that end never compared
    # the pair, so it is recorded on one end at most (each end records what it compared)
    conflicts_superseded: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    not_exercised: list[str] = field(default_factory=list)
    quiet: bool = False
    quiet_wait_s: float = 0.0
    setup_s: float = 0.0
    changes_s: float = 0.0
    duration_s: float = 0.0
    error_records: int = 0
    # evidence for each lost or drifted field (both ends' registers, replicas, histories,
    # changelogs), and what the error records and dead-letter queues held at the end
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    errors_seen: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=dict)

    @property
    def lost_count(self) -> int:
        return len(self.lost)

    @property
    def drift_count(self) -> int:
        return len(self.drift)


# --- small helpers ---------------------------------------------------------------------


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def body(side: Side, text: str) -> Body:
    return Body("adf", adf(text)) if side.body_format == "adf" else Body("wiki", text)


def plain(value: Body | None) -> str:
    """A body as whitespace-normalised plain text, whatever its format (the project's
    converters: wiki → ADF → text)."""
    if value is None or value.value is None:
        return ""
    if value.format == "adf":
        text = adf_to_text(value.value)
    elif value.format == "wiki":
        text = adf_to_text(wiki_to_adf(value.value))
    else:
        text = str(value.value)
    return " ".join(text.split())


def patiently(call: Any, *args: Any, **kw: Any) -> Any:
    """A person's call to a tracker that is being throttled or failing: they try again."""
    for _ in range(60):
        try:
            return call(*args, **kw)
        except RateLimited as exc:
            time.sleep(min(max(exc.retry_after, 0.2), 5.0))
        except Unavailable:
            time.sleep(0.3)
    return call(*args, **kw)


# --- chaos on the sandbox: webhooks and lost answers -----------------------------------


SENDERS = 4


class WebhookChaos:
    """Replaces a sandbox's webhook sender: each delivery is dropped, or sent 1..n times at
    random moments within ``spread_s`` (so deliveries overtake each other). A copy that
    fails is retried like the sandbox would (0.2, 0.5, 1 s), then given up."""

    BACKOFF = (0.2, 0.5, 1.0)

    def __init__(self, site: Any, rng: random.Random, plan: SoakPlan) -> None:
        self.site = site
        self.rng = rng
        self.plan = plan
        self.original = site.publisher.send
        self.counts: Counter[str] = Counter()
        self.lock = threading.Condition()
        self.heap: list[tuple[float, int, str, bytes, dict[str, str], int]] = []
        self.sending = 0
        self.serial = 0
        self.stopping = False
        # several senders: copies of one delivery must not queue behind each other (a single
        # sender fell behind at 6 changes/s and turned the soak's own chaos into the backlog)
        self.threads = [
            threading.Thread(target=self._run, name=f"soak-webhooks-{i}", daemon=True)
            for i in range(SENDERS)
        ]

    def start(self) -> None:
        self.site.publisher.send = self
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.site.publisher.send = self.original
        with self.lock:
            self.stopping = True
            self.lock.notify_all()
        for thread in self.threads:
            thread.join(timeout=5)

    def __call__(self, request: urllib.request.Request, timeout: float) -> int:
        self.counts["webhooks"] += 1
        with self.lock:
            if self.rng.random() < self.plan.drop_rate:
                self.counts["webhooks dropped"] += 1
                return 202
            copies = self.rng.randint(1, self.plan.max_copies)
            self.counts["webhook copies sent"] += copies
            if copies > 1:
                self.counts["webhooks delivered 2-3 times"] += 1
            now = time.monotonic()
            for _ in range(copies):
                due = now + self.rng.uniform(0, self.plan.spread_s)
                self._push(due, request.full_url, request.data, dict(request.header_items()), 0)
        return 202

    def _push(self, due: float, url: str, data: Any, headers: dict[str, str], tries: int) -> None:
        self.serial += 1
        heapq.heappush(self.heap, (due, self.serial, url, data, headers, tries))
        self.lock.notify_all()

    def pending(self) -> int:
        with self.lock:
            return len(self.heap) + self.sending

    def _run(self) -> None:
        while True:
            with self.lock:
                while not self.stopping and (not self.heap or self.heap[0][0] > time.monotonic()):
                    wait = self.heap[0][0] - time.monotonic() if self.heap else None
                    self.lock.wait(wait if wait is None else max(wait, 0.001))
                if self.stopping:
                    return
                _, _, url, data, headers, tries = heapq.heappop(self.heap)
                self.sending += 1
            ok = self._send(url, data, headers)
            with self.lock:
                self.sending -= 1
                if not ok and tries < len(self.BACKOFF):
                    self._push(
                        time.monotonic() + self.BACKOFF[tries], url, data, headers, tries + 1
                    )
                elif not ok:
                    self.counts["webhook copies undeliverable (node down)"] += 1
                self.lock.notify_all()

    def _send(self, url: str, data: Any, headers: dict[str, str]) -> bool:
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            status = self.original(request, 10.0)
        except Exception:  # the node is down: retried like the sandbox does
            return False
        return 200 <= int(status) < 300


class LostAnswers:
    """Wraps a sandbox's request dispatch: when armed, the next matching write by the
    integration user is carried out and then answered 503, as if the worker had died
    between the tracker write and its record of it. Its retry must not write it twice."""

    KINDS = {
        "comment": ("POST", re.compile(r"/issue/([A-Z]+)-\d+/comment$")),
        "attachment": ("POST", re.compile(r"/issue/([A-Z]+)-\d+/attachments$")),
        "update": ("PUT", re.compile(r"/issue/([A-Z]+)-\d+$")),
    }

    def __init__(self, site: Any, projects: set[str]) -> None:
        from devstack.sandbox_jira.faults import unavailable
        from devstack.sandbox_jira.sandbox import error_response

        self.site = site
        self.projects = projects
        self.original = site.dispatch
        self.armed: set[str] = set()
        self.hit: Counter[str] = Counter()
        self.lock = threading.Lock()
        self._answer = lambda: error_response(unavailable(503))

    def start(self) -> None:
        self.site.dispatch = self

    def stop(self) -> None:
        self.site.dispatch = self.original

    def arm(self, *kinds: str) -> None:
        with self.lock:
            self.armed.update(kinds)

    def __call__(self, req: Any) -> Any:
        response = self.original(req)
        if not self.armed or not 200 <= response.status < 300:
            return response
        user = getattr(req, "user", None)
        login = f"{getattr(user, 'name', '') or ''} {getattr(user, 'email', '') or ''}"
        if INTEGRATION_USER not in login:
            return response
        with self.lock:
            for kind in sorted(self.armed):
                method, pattern = self.KINDS[kind]
                match = pattern.search(req.path)
                if req.method == method and match and match.group(1) in self.projects:
                    self.armed.discard(kind)
                    self.hit[kind] += 1
                    return self._answer()
        return response


# --- the soak ---------------------------------------------------------------------------


class Soak:
    def __init__(self, stack: LocalStack, info: dict[str, Any], plan: SoakPlan) -> None:
        self.stack = stack
        self.info = info
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.result = SoakResult(plan=plan)
        self.nodes = {name: NodeClient(info["nodes"][name]) for name in info["nodes"]}
        self.people = {name: tracker_as(info, name) for name in ("a", "b")}
        self.bots = {
            name: tracker_as(info, name, "integration_user").myself().id for name in ("a", "b")
        }
        self.twins: list[Twin] = []
        self.cids: dict[str, str] = {}
        self.projects: dict[str, str] = {}
        self.conflicts: list[PlannedConflict] = []
        self.edits: list[tuple[Twin, str, Edit]] = []  # every field edit, in order
        self.serial = 0
        self.chaos: list[WebhookChaos] = []
        self.lost_answers: dict[str, LostAnswers] = {}
        self.reconcile_seen: dict[str, int] = {}

    # --- setup ----------------------------------------------------------------------------

    def _project(self, tracker: str, role: str) -> str:
        admin = self.stack.trackers[tracker].admin
        for _ in range(20):
            key = "S" + "".join(self.rng.choice(string.ascii_uppercase) for _ in range(3))
            try:
                admin.create_project(
                    key, f"Soak {role}", issue_types=["Task", "Bug"], default_issue_type="Task"
                )
            except Exception:  # taken (an earlier soak on this stack): try another key
                continue
            return key
        raise RuntimeError("no free project key for the soak")

    def setup(self) -> None:
        started = time.monotonic()
        for role, tracker in ROLE_TRACKER.items():
            self.projects[role] = self._project(tracker, role)
        self.cids["public"] = connect(
            self.nodes["a"],
            self.nodes["c"],
            initiator_project=self.projects["a-c"],
            acceptor_project=self.projects["c"],
            destination_url=self.nodes["c"].url,
        )
        self.cids["private"] = connect(
            self.nodes["a"],
            self.nodes["b"],
            initiator_project=self.projects["a-b"],
            acceptor_project=self.projects["b"],
        )
        self._make_twins()
        self.result.setup_s = time.monotonic() - started

    def _sides(self, private: bool) -> tuple[Side, Side]:
        far_node, far_project = ("b", self.projects["b"]) if private else ("c", self.projects["c"])
        near_project = self.projects["a-b" if private else "a-c"]
        return (
            Side("a", "a", near_project, self.people["a"], "adf"),
            Side(far_node, "b", far_project, self.people["b"], "wiki"),
        )

    def _make_twins(self) -> None:
        private_every = round(1 / self.plan.private_share) if self.plan.private_share else 0
        pending = []
        for i in range(self.plan.twins):
            private = bool(private_every) and i % private_every == private_every - 1
            sides = self._sides(private)
            origin = i % 2
            summary, description = f"soak {i} s0 end", f"soak {i} d0 end"
            side = sides[origin]
            ref = patiently(
                side.person.create_issue,
                side.project,
                IssueFields(
                    summary=summary, issue_type="Task", description=body(side, description)
                ),
            )
            cid = self.cids["private" if private else "public"]
            answer = self.nodes[side.node].post(
                f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key}
            )
            assert answer.ok, answer.text
            keys = [ref.key, ""] if origin == 0 else ["", ref.key]
            now = time.monotonic()
            twin = Twin(
                i, cid, sides, keys, Edit(summary, origin, now), Edit(description, origin, now)
            )
            self.twins.append(twin)
            pending.append((twin, origin))
        deadline = time.monotonic() + max(120.0, 2.0 * self.plan.twins)
        while pending and time.monotonic() < deadline:
            still = []
            for twin, origin in pending:
                side = twin.sides[origin]
                other = twin_key(self.nodes[side.node], twin.cid, twin.keys[origin])
                if other:
                    twin.keys[1 - origin] = other
                else:
                    still.append((twin, origin))
            pending = still
            if pending:
                time.sleep(0.5)
        if pending:
            raise RuntimeError(f"{len(pending)} twins did not link within the setup time")

    # --- changes --------------------------------------------------------------------------

    def _text(self, twin: Twin, kind: str) -> str:
        self.serial += 1
        return f"soak {twin.index} {kind}{self.serial} end"

    def _edit_field(self, twin: Twin, name: str, side_index: int) -> Edit:
        side = twin.sides[side_index]
        text = self._text(twin, "s" if name == "summary" else "d")
        fields = (
            IssueFields(summary=text)
            if name == "summary"
            else IssueFields(description=body(side, text))
        )
        patiently(side.person.update_issue, twin.keys[side_index], fields)
        edit = Edit(text, side_index, time.monotonic(), time.time())
        setattr(twin, name, edit)
        self.edits.append((twin, name, edit))
        return edit

    def op_summary(self, twin: Twin) -> int:
        self._edit_field(twin, "summary", self.rng.randrange(2))
        return 1

    def op_description(self, twin: Twin) -> int:
        self._edit_field(twin, "description", self.rng.randrange(2))
        return 1

    def op_comment_add(self, twin: Twin) -> int:
        s = self.rng.randrange(2)
        side = twin.sides[s]
        tag = f"c{self.serial + 1}"
        text = self._text(twin, "c")
        comment = patiently(side.person.add_comment, twin.keys[s], body(side, f"{tag} {text}"))
        twin.comments[tag] = (s, comment.id, f"{tag} {text}")
        return 1

    def _live_comment(self, twin: Twin) -> str | None:
        live = sorted(tag for tag, (_, _, text) in twin.comments.items() if text is not None)
        return self.rng.choice(live) if live else None

    def op_comment_edit(self, twin: Twin) -> int:
        tag = self._live_comment(twin)
        if tag is None:
            return self.op_comment_add(twin)
        s, cid, _ = twin.comments[tag]
        side = twin.sides[s]
        text = f"{tag} {self._text(twin, 'e')}"
        patiently(side.person.update_comment, twin.keys[s], cid, body(side, text))
        twin.comments[tag] = (s, cid, text)
        return 1

    def op_comment_delete(self, twin: Twin) -> int:
        tag = self._live_comment(twin)
        if tag is None:
            return self.op_comment_add(twin)
        s, cid, _ = twin.comments[tag]
        patiently(twin.sides[s].person.delete_comment, twin.keys[s], cid)
        twin.comments[tag] = (s, cid, None)
        return 1

    def op_attachment_add(self, twin: Twin) -> int:
        s = self.rng.randrange(2)
        self.serial += 1
        name = f"soak-{twin.index}-{self.serial}.txt"
        data = self.rng.randbytes(self.rng.randint(64, 4096))
        patiently(twin.sides[s].person.upload_attachment, twin.keys[s], name, data, "text/plain")
        twin.attachments[name] = (s, len(data))
        return 1

    def op_conflict(self, twin: Twin) -> int:
        name = self.rng.choice(("summary", "description"))
        first_side = self.rng.randrange(2)
        first = self._edit_field(twin, name, first_side)
        later = self._edit_field(twin, name, 1 - first_side)
        self.conflicts.append(PlannedConflict(twin, name, first, later))
        return 2

    def op_edit_during_apply(self, twin: Twin) -> int:
        s = self.rng.randrange(2)
        self._edit_field(twin, "summary", s)
        time.sleep(self.rng.uniform(0.05, 0.6))  # its apply on the other side is under way
        self._edit_field(twin, "description", 1 - s)
        return 2

    def run_changes(self) -> None:
        started = time.monotonic()
        names = [name for name, _ in OPS]
        weights = [w for _, w in OPS]
        made = 0
        faults = Faults(self)
        while made < self.plan.changes:
            order = list(self.twins)
            self.rng.shuffle(order)
            for twin in order:
                if made >= self.plan.changes:
                    break
                faults.step(made / self.plan.changes)
                op = self.rng.choices(names, weights)[0]
                made += getattr(self, f"op_{op}")(twin)
                pause = started + made / self.plan.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                if self.plan.progress and made % 200 < 2:
                    print(f"   {made} changes, {time.monotonic() - started:.0f} s", flush=True)
        faults.finish()
        self.result.changes_made = made
        self.result.changes_s = time.monotonic() - started

    # --- quiet --------------------------------------------------------------------------

    def _sqs_backlog(self, only: str | None = None) -> int:
        """Messages in the nodes' queues (``only``: one node's): waiting, in flight, delayed."""
        import boto3

        sqs = boto3.client(
            "sqs",
            endpoint_url=self.stack.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        total = 0
        for node_name, node in self.stack.nodes.items():
            if only is not None and node_name != only:
                continue
            for name, url in node.env.items():
                if not (name.startswith("TWINSYNC_QUEUE_") and name.endswith("_URL")):
                    continue
                attrs = sqs.get_queue_attributes(
                    QueueUrl=url,
                    AttributeNames=[
                        "ApproximateNumberOfMessages",
                        "ApproximateNumberOfMessagesNotVisible",
                        "ApproximateNumberOfMessagesDelayed",
                    ],
                )["Attributes"]
                total += sum(int(v) for v in attrs.values())
        return total

    def _entries_waiting(self) -> int:
        waiting = 0
        ends = (("a", "public"), ("c", "public"), ("a", "private"), ("b", "private"))
        for node, which in ends:
            view = self.nodes[node].get(f"/api/v1/connections/{self.cids[which]}/queue").json()
            waiting += int(view["outgoing"]["pending"])
            waiting += int(view["incoming"]["pending"]) + int(view["incoming"]["held"])
        return waiting

    def _sweeps(self) -> dict[str, int]:
        return {
            name: int(self.stack.node_stats(name).get("invocations", {}).get("reconcile", 0))
            for name in self.stack.nodes
        }

    def busy(self) -> str | None:
        """What is still moving, or None when nothing is."""
        for name, tracker in self.stack.trackers.items():
            publisher = tracker.server.publisher
            if publisher.queue or publisher.in_flight:
                return f"tracker {name} has webhooks to send"
        if any(chaos.pending() for chaos in self.chaos):
            return "webhook copies to send"
        backlog = self._sqs_backlog()
        if backlog:
            return f"{backlog} queue messages"
        waiting = self._entries_waiting()
        if waiting:
            return f"{waiting} outbox/inbox entries pending"
        return None

    def wait_quiet(self) -> bool:
        """Until nothing moves and two sweeps on every node changed nothing (bounded)."""
        started = time.monotonic()
        deadline = started + self.plan.quiet_timeout_s
        calm_since: dict[str, int] | None = None
        last_print = started
        while time.monotonic() < deadline:
            why = self.busy()
            if why is not None:
                calm_since = None
                if self.plan.progress and time.monotonic() - last_print > 15:
                    print(f"   waiting for quiet: {why}", flush=True)
                    last_print = time.monotonic()
            elif calm_since is None:
                calm_since = self._sweeps()
            elif all(n >= calm_since[k] + 2 for k, n in self._sweeps().items()):
                self.result.quiet_wait_s = time.monotonic() - started
                return True
            time.sleep(0.5)
        self.result.quiet_wait_s = time.monotonic() - started
        return False

    # --- the comparison -----------------------------------------------------------------

    def verify(self) -> None:
        r = self.result
        for twin in self.twins:
            try:
                issues = [patiently(twin.sides[i].person.get_issue, twin.keys[i]) for i in range(2)]
            except TrackerError as exc:
                r.lost.append(f"twin {twin.index}: an issue cannot be read ({exc})")
                continue
            self._verify_fields(twin, issues)
            self._verify_comments(twin, issues)
            self._verify_attachments(twin, issues)
        self._verify_issue_counts()
        self._verify_conflicts()
        ends = (("a", "public"), ("c", "public"), ("a", "private"), ("b", "private"))
        errors = 0
        for node, which in ends:
            answer = self.nodes[node].get(
                "/api/v1/errors", params={"connection_id": self.cids[which]}
            )
            if answer.ok:
                errors += len(answer.json())
                r.errors_seen += [{"node": node, **e} for e in answer.json()]
        r.error_records = errors
        r.dead_letters = self._dead_letters()

    def _name(self, twin: Twin) -> str:
        return f"twin {twin.index} ({twin.keys[0]} ↔ {twin.keys[1]})"

    def _verify_fields(self, twin: Twin, issues: list[Any]) -> None:
        r = self.result
        values = {
            "summary": [issues[0].summary, issues[1].summary],
            "description": [plain(issues[0].description), plain(issues[1].description)],
        }
        for name, (left, right) in values.items():
            expected = getattr(twin, name)
            if left != right:
                r.drift.append(f"{self._name(twin)} {name}: {left!r} vs {right!r}")
                r.diagnostics.append(self._evidence(twin, name, r.drift[-1]))
            elif left != expected.text:
                why = self._explain(twin, name, left)
                target = r.explained if why else r.lost
                target.append(
                    f"{self._name(twin)} {name}: both {left!r}, expected the later edit "
                    f"{expected.text!r} (made on side {twin.sides[expected.side].node})"
                    + (f": {why}" if why else "")
                )
                if not why:
                    r.diagnostics.append(self._evidence(twin, name, target[-1]))

    # --- evidence for a finding -----------------------------------------------------------

    def _aws(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.stack.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def _items(self, node: str, table: str, **query: Any) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        des = TypeDeserializer()
        name = self.stack.nodes[node].env[f"TWINSYNC_TABLE_{table}"]
        pages = self._aws("dynamodb").get_paginator("query").paginate(TableName=name, **query)
        return [
            {k: des.deserialize(v) for k, v in item.items()}
            for page in pages
            for item in page.get("Items", [])
        ]

    def _field_text(self, name: str, value: Any) -> str:
        if name == "description" and isinstance(value, dict):
            return plain(Body(str(value.get("format")), value.get("value")))
        return str(value)

    def _carried(self, node: str, pk: str, issue_key: str, name: str) -> list[tuple[int, str, str]]:
        """Each replica of this issue in one outbox or inbox: (version, the field's value
        as text, a line with seq, state and the field's stamp)."""
        rows = []
        items = self._items(
            node,
            "ENTRIES",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
        )
        for item in items:
            if item.get("issue_key") != issue_key:
                continue
            replica = json.loads(item["replica"]) if isinstance(item["replica"], str) else {}
            stamp = (replica.get("stamps") or {}).get(name) or {}
            text = self._field_text(name, replica.get(name))
            rows.append(
                (
                    int(replica.get("version") or 0),
                    text,
                    f"seq {int(item['seq'])} v{replica.get('version')} {item.get('state')} "
                    f"{text!r} at {stamp.get('at')} by {stamp.get('origin')} "
                    f"after {stamp.get('after')}",
                )
            )
        return rows

    def _replicas(self, node: str, pk: str, issue_key: str, name: str) -> list[str]:
        return [line for _, _, line in self._carried(node, pk, issue_key, name)]

    def _field_changes(
        self, side: Side, key: str, name: str
    ) -> list[tuple[datetime, str, str, str]]:
        """The tracker's own history of the field, oldest first: (when, author id, author
        name, value as text). Raises ``TrackerError`` when the issue cannot be read."""
        from chalicelib.trackers.jira_common import user_id

        person = side.person
        data = person.http.json("GET", person._issue_path(key), params={"expand": "changelog"})
        rows = []
        for history in (data.get("changelog") or {}).get("histories") or ():
            author = history.get("author") or {}
            who = str(author.get("name") or author.get("displayName") or user_id(author))
            when = datetime.strptime(str(history.get("created")), "%Y-%m-%dT%H:%M:%S.%f%z")
            for item in history.get("items") or ():
                if str(item.get("field") or "").lower() == name:
                    to = " ".join(str(item.get("toString") or "").split())
                    rows.append((when, str(user_id(author)), who, to))
        return sorted(rows, key=lambda row: row[0])

    def _changelog(self, side: Side, key: str, name: str) -> list[str]:
        """The tracker's own history of the field: when, who, to what."""
        try:
            changes = self._field_changes(side, key, name)
        except (TrackerError, ValueError) as exc:
            return [f"unreadable: {exc}"]
        return [
            f"{when.isoformat(timespec='milliseconds')} {who}: {to[:60]!r}"
            for when, _, who, to in changes
        ]

    def _evidence(self, twin: Twin, name: str, finding: str) -> dict[str, Any]:
        """What both ends know about one twin's field: enough to tell why an edit was lost."""
        edit = getattr(twin, name)
        ends = []
        for i in range(2):
            side, key, other = twin.sides[i], twin.keys[i], twin.keys[1 - i]
            end: dict[str, Any] = {"node": side.node, "key": key}
            try:
                items = self._items(
                    side.node,
                    "TWINS",
                    KeyConditionExpression="connection_id = :c AND local_key = :k",
                    ExpressionAttributeValues={":c": {"S": twin.cid}, ":k": {"S": key}},
                )
                item = items[0] if items else {}
                state = json.loads(item.get("merge_state") or "{}")
                end["register"] = state.get(name)
                for attr in (
                    "last_applied_version",
                    "last_sent_version",
                    "seen_updated",
                    "status",
                    "error",
                    "lease_until",
                ):
                    value = item.get(attr)
                    end[attr] = int(value) if hasattr(value, "as_integer_ratio") else value
                end["outbox"] = self._replicas(side.node, f"{twin.cid}#out", key, name)
                end["inbox"] = self._replicas(side.node, f"{twin.cid}#in", other, name)
            except Exception as exc:  # evidence is best effort: never hide the finding
                end["store_error"] = repr(exc)
            node = self.nodes[side.node]
            answer = node.get(f"/api/v1/connections/{twin.cid}/twins/{key}/history")
            end["history"] = [
                f"{h.get('time')} {h.get('direction')} v{h.get('version')} {h.get('outcome')} "
                f"{h.get('changes')}"
                + (f" conflicts {h['conflicts']}" if h.get("conflicts") else "")
                for h in reversed(answer.json() if answer.ok else [])
            ]
            end["changelog"] = self._changelog(side, key, name)
            ends.append(end)
        return {
            "finding": finding,
            "twin": twin.index,
            "field": name,
            "expected": edit.text,
            "made_on": twin.sides[edit.side].node,
            "made_at": time.strftime("%H:%M:%S", time.gmtime(edit.wall))
            + f".{int(edit.wall * 1000) % 1000:03d}Z",
            "ends": ends,
        }

    def _dead_letters(self) -> dict[str, int]:
        sqs = self._aws("sqs")
        found = {}
        for node in self.stack.nodes:
            for kind in ("ingest", "deliver", "apply", "jobs"):
                try:
                    url = sqs.get_queue_url(QueueName=f"ts-{node}-{kind}-dlq.fifo")["QueueUrl"]
                    attrs = sqs.get_queue_attributes(
                        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
                    )["Attributes"]
                except Exception:  # no such queue in this template
                    continue
                count = int(attrs.get("ApproximateNumberOfMessages", 0))
                if count:
                    found[f"{node} {kind}"] = count
        return found

    def _met_on_both_ends(self, conflict: PlannedConflict) -> bool:
        """Did each end still hold its own edit of the pair when the other one arrived?
        Not when a newer edit of the field was made on that side first (then that end
        compared the newer one, or nothing: the pair itself was met on one end at most).
        When this cannot be told, the stricter answer (yes)."""
        twin, name = conflict.twin, conflict.field
        try:
            for mine, theirs in (
                (conflict.first, conflict.later),
                (conflict.later, conflict.first),
            ):
                newer = [
                    e.wall
                    for t, n, e in self.edits
                    if t is twin and n == name and e.side == mine.side and e.wall > mine.wall
                ]
                if not newer:
                    continue
                arrived = self._applied_at(twin, mine.side, name, theirs.text)
                if arrived is None or min(newer) < arrived:
                    return False
        except Exception:  # cannot tell
            return True
        return True

    def _applied_at(self, twin: Twin, side: int, name: str, text: str) -> float | None:
        """When end ``side`` first applied a replica carrying ``text`` (wall clock)."""
        node = twin.sides[side].node
        carried = self._carried(node, f"{twin.cid}#in", twin.keys[1 - side], name)
        versions = {version for version, value, _ in carried if value == text}
        answer = self.nodes[node].get(
            f"/api/v1/connections/{twin.cid}/twins/{twin.keys[side]}/history"
        )
        times = [
            datetime.fromisoformat(h["time"]).timestamp()
            for h in (answer.json() if answer.ok else [])
            if h.get("direction") == "incoming"
            and h.get("version") in versions
            and str(h.get("outcome")).startswith(("applied", "error"))
        ]
        return min(times) if times else None

    def _explain(self, twin: Twin, name: str, seen: str) -> str | None:
        """A planned conflict whose earlier edit won although neither end recorded a
        conflict: the later edit was overwritten by the apply of the earlier one before
        ingest read it (ADR 0004, "Consequences and limits")."""
        for conflict in self.conflicts:
            planned = conflict.twin is twin and conflict.field == name
            if planned and seen == conflict.first.text and not self._recorded(conflict):
                return (
                    "the later edit was overwritten by the apply of the concurrent one "
                    "before ingest read it (ADR 0004, apply window)"
                )
        if self._overwritten_before_read(twin, name, getattr(twin, name)):
            return (
                "an apply's write overwrote the edit on its own tracker moments after it was "
                "made, before any ingest read it: the edit fell between the apply's look and "
                "its write (ADR 0004, apply window)"
            )
        return None

    WINDOW_S = 5.0  # an apply's look and its write are this close at most (local work only)

    def _overwritten_before_read(self, twin: Twin, name: str, edit: Edit) -> bool:
        """The tracker's changelog shows the edit, then at once (``WINDOW_S``) a write of
        the integration user over it, and its side never sent it: not in its outbox, and
        no outgoing record of the field after the edit (a replica the peer accepted when
        it was pushed leaves no outbox entry since issue 19: ADR 0011)."""
        side = twin.sides[edit.side]
        try:
            changes = self._field_changes(side, twin.keys[edit.side], name)
            sent = self._carried(side.node, f"{twin.cid}#out", twin.keys[edit.side], name)
        except Exception:  # cannot tell: not explained
            return False
        if any(value == edit.text for _, value, _ in sent):
            return False  # read and sent: a loss after that is never this limit
        bot = self.bots[side.tracker]
        for i, (when, author, _, value) in enumerate(changes):
            if value != edit.text or author == bot or i + 1 >= len(changes):
                continue
            after, by, _, _ = changes[i + 1]
            if by != bot or (after - when).total_seconds() > self.WINDOW_S:
                return False
            return not self._maybe_sent_after(twin, edit.side, name, when)
        return False

    def _maybe_sent_after(self, twin: Twin, side: int, name: str, since: datetime) -> bool:
        """Did end ``side`` send a change of the field after ``since`` (its outgoing
        history records; when this cannot be told, the stricter answer: yes)?"""
        node = self.nodes[twin.sides[side].node]
        try:
            answer = node.get(f"/api/v1/connections/{twin.cid}/twins/{twin.keys[side]}/history")
            records = answer.json() if answer.ok else None
            if records is None:
                return True
            return any(
                h.get("direction") == "outgoing"
                and name in (h.get("changes") or ())
                and datetime.fromisoformat(str(h.get("time"))) >= since
                for h in records
            )
        except Exception:  # cannot tell
            return True

    def _comments(self, issue: Any, tracker: str) -> tuple[list[str], list[str]]:
        people, mirrors = [], []
        for comment in issue.comments:
            text = plain(comment.body)
            (mirrors if comment.author.id == self.bots[tracker] else people).append(text)
        return people, mirrors

    def _verify_comments(self, twin: Twin, issues: list[Any]) -> None:
        r = self.result
        seen = [self._comments(issues[i], twin.sides[i].tracker) for i in range(2)]
        for tag, (s, _, text) in sorted(twin.comments.items()):
            marker = f" {tag} soak "
            mirrors = [m for m in seen[1 - s][1] if marker in f" {m}"]
            if text is None:
                if mirrors:
                    r.drift.append(f"{self._name(twin)} comment {tag}: deleted, mirror remains")
                continue
            if len(mirrors) > 1:
                r.duplicates["comments"] += len(mirrors) - 1
            if not any(text in m for m in mirrors):
                r.lost.append(
                    f"{self._name(twin)} comment {tag} from {twin.sides[s].node}: "
                    f"expected a mirror with {text!r}, seen {mirrors!r}"
                )
        for i in range(2):  # mirrors of nothing (a comment written twice by the sync)
            known = {f" {tag} soak " for tag in twin.comments}
            for mirror in seen[i][1]:
                if not any(k in f" {mirror}" for k in known):
                    r.drift.append(f"{self._name(twin)}: a mirror of no comment: {mirror!r}")

    def _verify_attachments(self, twin: Twin, issues: list[Any]) -> None:
        r = self.result
        for name, (s, size) in sorted(twin.attachments.items()):
            copies = [a for a in issues[1 - s].attachments if a.filename == name]
            originals = [a for a in issues[s].attachments if a.filename == name]
            if len(originals) > 1:
                r.duplicates["attachments"] += len(originals) - 1
            if len(copies) > 1:
                r.duplicates["attachments"] += len(copies) - 1
            if not copies:
                r.lost.append(f"{self._name(twin)} attachment {name}: not copied")
            elif any(a.size != size for a in copies):
                r.drift.append(f"{self._name(twin)} attachment {name}: size differs")

    def _verify_issue_counts(self) -> None:
        expected: Counter[str] = Counter()
        for twin in self.twins:
            for side in twin.sides:
                expected[side.project] += 1
        for role, project in self.projects.items():
            person = self.people[ROLE_TRACKER[role]]
            count, cursor = 0, None
            while True:
                page = patiently(person.search, f"project = {project}", cursor=cursor, limit=100)
                count += len(page.issues)
                cursor = page.next_cursor
                if not cursor or not page.issues:
                    break
            if count > expected[project]:
                self.result.duplicates["issues"] += count - expected[project]
            elif count < expected[project]:
                self.result.lost.append(f"project {project}: {count} of {expected[project]}")

    def _twin_conflicts(self, twin: Twin) -> list[list[dict[str, Any]]]:
        out = []
        for i in range(2):
            node = self.nodes[twin.sides[i].node]
            answer = node.get(f"/api/v1/connections/{twin.cid}/twins/{twin.keys[i]}")
            out.append(answer.json().get("conflicts", []) if answer.ok else [])
        return out

    def _records_of(self, conflict: PlannedConflict) -> list[list[dict[str, Any]]]:
        """Each end's records of this planned conflict (its field, one of its values)."""
        tokens = (conflict.first.text, conflict.later.text)
        return [
            [
                c
                for c in end
                if c["field"] == conflict.field
                and any(t in json.dumps(c, ensure_ascii=False) for t in tokens)
            ]
            for end in self._twin_conflicts(conflict.twin)
        ]

    def _recorded(self, conflict: PlannedConflict) -> bool:
        return any(self._records_of(conflict))

    def _alike(self, conflict: PlannedConflict) -> bool:
        """Recorded on both ends, and the value both ends say won is the same."""
        left, right = self._records_of(conflict)
        return (
            bool(left and right)
            and {c.get("value") for c in left} & {c.get("value") for c in right} != set()
        )

    def _verify_conflicts(self) -> None:
        """Every conflict record on one end has its mirror on the other (same field, same
        two stamps, the winner seen from the other side); each planned one was recorded."""
        r = self.result
        r.conflicts_made = len(self.conflicts)
        unalike: set[int] = set()
        records = 0
        for twin in self.twins:
            left, right = self._twin_conflicts(twin)
            records += len(left)
            theirs = {_key(_mirror(c)) for c in right}
            ours = {_key(c) for c in left}
            for c in left:
                if _key(c) not in theirs:
                    r.conflicts_not_alike.append(f"{self._name(twin)}: only on side 0: {c}")
                    unalike.add(twin.index)
            for c in right:
                if _key(_mirror(c)) not in ours:
                    r.conflicts_not_alike.append(f"{self._name(twin)}: only on side 1: {c}")
                    unalike.add(twin.index)
        planned_recorded = 0
        for conflict in self.conflicts:
            if not self._recorded(conflict):
                r.conflicts_not_concurrent += 1
                continue
            planned_recorded += 1
            if self._alike(conflict):
                r.conflicts_recorded_alike += 1
            elif not self._met_on_both_ends(conflict):
                r.conflicts_superseded += 1
            else:
                left, right = self._records_of(conflict)
                finding = (
                    f"{self._name(conflict.twin)} {conflict.field}: planned conflict "
                    f"{conflict.first.text!r} then {conflict.later.text!r} not recorded alike: "
                    f"{left} vs {right}"
                )
                r.diagnostics.append(self._evidence(conflict.twin, conflict.field, finding))
        r.conflicts_unplanned = max(0, records - planned_recorded)

    def count_arrived(self) -> None:
        missing = len(self.result.lost)
        self.result.changes_arrived = max(0, self.result.changes_made - missing)

    # --- the whole run ------------------------------------------------------------------

    def run(self) -> SoakResult:
        started = time.monotonic()
        self.setup()
        if not self.wait_quiet():
            raise RuntimeError("the stack did not go quiet after the setup")
        for name, tracker in self.stack.trackers.items():
            chaos = WebhookChaos(
                tracker.server, random.Random(self.plan.seed * 31 + ord(name)), self.plan
            )
            chaos.start()
            self.chaos.append(chaos)
            projects = {p for role, p in self.projects.items() if ROLE_TRACKER[role] == name}
            answers = LostAnswers(tracker.server, projects)
            answers.start()
            self.lost_answers[name] = answers
        try:
            self.run_changes()
            self.result.quiet = self.wait_quiet()
        finally:
            for chaos in self.chaos:
                chaos.stop()
                self.result.faults.update(chaos.counts)
            for answers in self.lost_answers.values():
                answers.stop()
                for kind, n in answers.hit.items():
                    self.result.faults[f"write done, answer lost ({kind})"] += n
            for tracker in self.stack.trackers.values():
                tracker.admin.clear_faults()
        self.verify()
        self.count_arrived()
        self.result.duration_s = time.monotonic() - started
        return self.result


def _key(conflict: dict[str, Any]) -> tuple[Any, ...]:
    return (
        conflict.get("field"),
        conflict.get("winner"),
        conflict.get("local_changed_at"),
        conflict.get("remote_changed_at"),
    )


def _mirror(conflict: dict[str, Any]) -> dict[str, Any]:
    """The other end's record of the same conflict, as this end would write it."""
    return {
        **conflict,
        "winner": "remote" if conflict.get("winner") == "local" else "local",
        "local_changed_at": conflict.get("remote_changed_at"),
        "remote_changed_at": conflict.get("local_changed_at"),
        "local_value": conflict.get("remote_value"),
        "remote_value": conflict.get("local_value"),
    }


class Faults:
    """Opens and closes the fault windows as the change stream progresses."""

    def __init__(self, soak: Soak) -> None:
        self.soak = soak
        self.open: dict[str, float] = {}
        self.closed: set[str] = set()
        self.armed: list[tuple[str, str, int, str]] = []

    def step(self, progress: float) -> None:
        now = time.monotonic()
        for name, (start, end) in WINDOWS.items():
            if name in self.closed:
                continue
            if name not in self.open and progress >= start:
                getattr(self, f"open_{name}")()
                self.open[name] = now
            elif (
                name in self.open
                and progress >= end
                and now - self.open[name] >= self.soak.plan.min_window_s
            ):
                getattr(self, f"close_{name}")()
                self.closed.add(name)
                del self.open[name]

    def finish(self) -> None:
        for name in list(self.open):
            left = self.soak.plan.min_window_s - (time.monotonic() - self.open[name])
            if left > 0:
                time.sleep(left)
            getattr(self, f"close_{name}")()
            self.closed.add(name)
        for name in WINDOWS:
            if name not in self.closed:
                self.soak.result.not_exercised.append(f"{name} (the run was too short)")

    # --- each fault -------------------------------------------------------------------

    def _admin(self, tracker: str) -> Any:
        return self.soak.stack.trackers[tracker].admin

    def _armed(self, tracker: str, name: str, count: int, label: str, **settings: Any) -> None:
        self._admin(tracker).faults(**{name: count}, **settings)
        self.armed.append((tracker, name, count, label))

    def _disarm(self) -> None:
        """Clear the trackers' faults, counting what was actually served."""
        for tracker, name, count, label in self.armed:
            left = int(self._admin(tracker).call("GET", "faults").get(name, 0))
            self.soak.result.faults[label] += count - left
        self.armed.clear()
        for tracker in ("a", "b"):
            self._admin(tracker).clear_faults()

    def open_rate_limit_storm(self) -> None:
        n = max(20, self.soak.plan.changes // 20)
        self._armed("b", "rate_limit_next", n, "429 + Retry-After 1 s (tracker b)", retry_after=1)
        self._armed(
            "a", "rate_limit_next", n // 2, "429 + Retry-After 2 s (tracker a)", retry_after=2
        )

    def close_rate_limit_storm(self) -> None:
        self._disarm()

    def open_tracker_5xx(self) -> None:
        n = max(10, self.soak.plan.changes // 100)
        self._armed("a", "fail_next", n, "503 burst (tracker a)", error_status=503)
        self._armed("b", "fail_next", n, "502 burst (tracker b)", error_status=502)
        self._admin("a").faults(error_rate=0.05)  # then 5% of a's requests, until closed
        self.soak.result.faults["window of 5% 503s (tracker a)"] += 1

    def close_tracker_5xx(self) -> None:
        self._disarm()

    def _stop_when_idle(self, node: str) -> None:
        """Stop a node between two pieces of work: a process killed with a message in
        flight holds its FIFO group until the queue's visibility timeout (6-12 minutes,
        as on AWS), longer than a soak waits."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.soak._sqs_backlog(only=node):
            time.sleep(0.2)
        self.soak.stack.stop_node(node)

    def open_peer_down(self) -> None:
        self._stop_when_idle("c")
        self.soak.result.faults["peer node c down and back"] += 1

    def close_peer_down(self) -> None:
        self.soak.stack.start_node("c")

    def _hooks(self, tracker: str, node: str) -> list[dict[str, Any]]:
        return [h for h in self._admin(tracker).webhooks() if h.get("name") == f"twinsync-{node}"]

    def open_webhooks_off(self) -> None:
        for hook in self._hooks("a", "a"):
            self._admin("a").set_webhook(str(hook["id"]), enabled=False)
        self.soak.result.faults["webhooks off on tracker a (window)"] += 1

    def close_webhooks_off(self) -> None:
        for hook in self._hooks("a", "a"):
            self._admin("a").set_webhook(str(hook["id"]), enabled=True)

    def open_lost_answers(self) -> None:
        for answers in self.soak.lost_answers.values():
            answers.arm("comment", "attachment", "update")

    def close_lost_answers(self) -> None:
        for name, answers in self.soak.lost_answers.items():
            with answers.lock:
                for kind in sorted(answers.armed):
                    self.soak.result.not_exercised.append(
                        f"write done, answer lost ({kind}) on tracker {name}: no such write "
                        "happened in the window"
                    )
                answers.armed.clear()

    def open_private_away(self) -> None:
        self._stop_when_idle("b")
        self.soak.result.faults["private node b away and back"] += 1

    def close_private_away(self) -> None:
        self.soak.stack.start_node("b")


def run_soak(stack: LocalStack, info: dict[str, Any], plan: SoakPlan) -> SoakResult:
    """Run the whole soak on a started stack (nodes a, b private, c; trackers a, b)."""
    return Soak(stack, info, plan).run()


def summary_rows(result: SoakResult) -> list[tuple[str, str]]:
    """The result as (what, value) rows for a table."""
    r = result
    rows = [
        ("changes made", str(r.changes_made)),
        ("changes arrived", str(r.changes_arrived)),
        (
            "duplicates (issues / comments / attachments)",
            f"{r.duplicates['issues']} / {r.duplicates['comments']} / "
            f"{r.duplicates['attachments']}",
        ),
        ("lost changes", str(r.lost_count)),
        ("lost, explained by a documented limit", str(len(r.explained))),
        (
            "conflicts made / recorded alike on both ends",
            f"{r.conflicts_made} / {r.conflicts_recorded_alike}",
        ),
        ("conflicts made but not concurrent (no record)", str(r.conflicts_not_concurrent)),
        (
            "conflicts made, one edit replaced on its side before the other arrived",
            str(r.conflicts_superseded),
        ),
        (
            "one-sided conflict records (a value the other end had already replaced)",
            str(len(r.conflicts_not_alike)),
        ),
        ("conflicts recorded, not planned", str(r.conflicts_unplanned)),
        ("drift found", str(r.drift_count)),
        ("open error records", str(r.error_records)),
        ("quiet at the end", f"{'yes' if r.quiet else 'NO'} (waited {r.quiet_wait_s:.0f} s)"),
        (
            "duration (setup / changes / all)",
            f"{r.setup_s:.0f} s / {r.changes_s:.0f} s / {r.duration_s:.0f} s",
        ),
    ]
    rows += [(f"fault: {name}", str(n)) for name, n in sorted(r.faults.items())]
    return rows


def evidence_text(result: SoakResult) -> str:
    """The diagnostics of a run, readable: each finding with both ends' evidence, then the
    open error records and dead letters (empty when there is nothing to explain)."""
    lines: list[str] = []
    for item in result.diagnostics:
        lines.append(f"== {item['finding']}")
        lines.append(
            f"   expected {item['expected']!r} made on {item['made_on']} at {item['made_at']}"
        )
        for end in item["ends"]:
            lines.append(f"   -- node {end['node']} {end['key']}")
            for name, value in end.items():
                if name in ("node", "key"):
                    continue
                if isinstance(value, list):
                    lines.append(f"      {name}:")
                    lines += [f"         {row}" for row in value]
                else:
                    lines.append(f"      {name}: {value}")
    if result.diagnostics or result.lost or result.drift:
        for record in result.conflicts_not_alike:
            lines.append(f"one-sided conflict record: {record}")
        for error in result.errors_seen:
            lines.append(f"error record: {error}")
        for queue, count in result.dead_letters.items():
            lines.append(f"dead letters: {queue}: {count}")
    return "\n".join(lines)
