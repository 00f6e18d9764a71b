"""The outbox a private peer pulls: numbered from the clock, and nothing saved late is lost.

Issue 19: a public node numbers its outbox entries from the clock (one conditional put per
entry, no counter). An entry's number is taken a moment before it is saved, so an entry
can become visible after one with a higher number was pulled. Node A is public, node P
private and pulls A's outbox over the cluster's HTTP (its ``poll_peers`` follower): the
entry saved late still reaches P, and an ack never acknowledges an entry P did not get.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.store.models import EntryModel, KeyModel
from chalicelib.store.namespaces import outbox_pk, seq_key
from chalicelib.trackers.base import IssueFields
from tests.factories.cluster import three_nodes
from tests.functional.test_refusals import connect, move_queues


@pytest.fixture
def cluster(aws, monkeypatch):
    with three_nodes(aws, monkeypatch) as nodes:
        yield nodes


def pull(cluster, cid) -> dict[str, Any]:
    """One short poll_peers run on P, then P applies what it pulled."""
    from chalicelib.root import root
    from chalicelib.sync.links import get_connection
    from chalicelib.sync.private import follow

    budget = iter([4_000, 0])
    with cluster.active(cluster["node-p"]):
        done = follow(get_connection(cid), remaining_ms=lambda: next(budget, 0), deps=root().sync)
    move_queues(cluster, "node-p")
    return done


def sync_on_a(cluster, cid, summary: str) -> str:
    """A new issue on A put under sync: its replica lands in A's outbox for P."""
    ref = cluster["node-a"].tracker.create_issue("SUP", IssueFields(summary=summary))
    answer = cluster.admin(
        "node-a", "POST", f"/api/v1/connections/{cid}/sync", {"issue_key": ref.key}
    )
    assert answer.status == 202, answer.body
    move_queues(cluster, "node-a")
    return ref.key


def outbox_of_a(cluster, cid) -> list[EntryModel]:
    with cluster.active(cluster["node-a"]):
        return list(EntryModel.query(outbox_pk(cid), consistent_read=True))


def p_has(cluster, summary: str) -> bool:
    return any(i.summary == summary for i in cluster["node-p"].tracker.issues.values())


def unsave(cluster, entry: EntryModel) -> None:
    """``entry`` as it is between taking its number and its save: not in the table yet."""
    with cluster.active(cluster["node-a"]):
        entry.delete()


def save_late(cluster, entry: EntryModel) -> None:
    with cluster.active(cluster["node-a"]):
        entry.state = "pending"
        entry.save()


def test_entries_are_numbered_from_the_clock_without_a_counter(cluster):
    import time

    cid = connect(cluster, acceptor="node-p", project="PRIV", destination=None)
    before = time.time_ns() // 1_000
    sync_on_a(cluster, cid, "First")
    sync_on_a(cluster, cid, "Second")
    entries = outbox_of_a(cluster, cid)
    seqs = [int(e.seq) for e in entries]
    assert len(seqs) == 2 and seqs == sorted(set(seqs))
    assert all(before <= n <= time.time_ns() // 1_000 for n in seqs)
    with cluster.active(cluster["node-a"]):
        assert KeyModel.count(seq_key(outbox_pk(cid))) == 0  # no counter written
    pull(cluster, cid)
    assert p_has(cluster, "First") and p_has(cluster, "Second")
    assert {e.state for e in outbox_of_a(cluster, cid)} == {"acked"}


def test_an_entry_saved_after_a_higher_one_was_pulled_still_reaches_the_private_peer(cluster):
    cid = connect(cluster, acceptor="node-p", project="PRIV", destination=None)
    pull(cluster, cid)  # the connection's first pull: P's cursor starts
    sync_on_a(cluster, cid, "Numbered first, saved last")
    (slow,) = outbox_of_a(cluster, cid)
    unsave(cluster, slow)  # its number taken, its save still to come
    sync_on_a(cluster, cid, "Numbered second")
    (fast,) = outbox_of_a(cluster, cid)
    assert int(fast.seq) > int(slow.seq)

    pull(cluster, cid)  # P pulls the higher number; its cursor moves past the slow one
    assert p_has(cluster, "Numbered second")
    save_late(cluster, slow)
    pull(cluster, cid)

    assert p_has(cluster, "Numbered first, saved last")
    assert {e.state for e in outbox_of_a(cluster, cid)} == {"acked"}
    with cluster.active(cluster["node-p"]):
        from chalicelib.sync.private import pulled_upto

        assert pulled_upto(cid) == int(fast.seq)  # the cursor never went back


def p_calls(cluster, cid, method: str, path: str, body: Any = None) -> Any:
    """P calls A's node API (as its follower does), through the cluster's HTTP."""
    from chalicelib.root import root
    from chalicelib.sync.links import get_connection, peer_end

    with cluster.active(cluster["node-p"]):
        end = peer_end(get_connection(cid))
        return root().sync.peer.call(end, method, f"/node/v1/connections/{cid}/{path}", body)


def test_an_ack_acknowledges_what_the_peer_got_not_an_entry_saved_in_between(cluster):
    """An entry saved between P's pull and its ack, under a lower number: P's ack names
    what it received, so that entry stays pending (and is offered next); an older peer's
    ack (``upto`` alone) still acknowledges everything up to it."""
    cid = connect(cluster, acceptor="node-p", project="PRIV", destination=None)
    sync_on_a(cluster, cid, "Saved in between")
    (between,) = outbox_of_a(cluster, cid)
    unsave(cluster, between)
    sync_on_a(cluster, cid, "Pulled")
    (pulled,) = outbox_of_a(cluster, cid)
    upto = int(pulled.seq)

    answer = p_calls(cluster, cid, "GET", "outbox?after=0&wait=0")
    assert [item["seq"] for item in answer["items"]] == [upto]
    save_late(cluster, between)
    acked = p_calls(cluster, cid, "POST", "outbox/ack", {"upto": upto, "seqs": [upto]})
    assert acked == {"acked": 1, "upto": upto}
    states = {int(e.seq): e.state for e in outbox_of_a(cluster, cid)}
    assert states == {int(between.seq): "pending", upto: "acked"}

    again = p_calls(cluster, cid, "GET", f"outbox?after={upto}&wait=0")
    assert [item["seq"] for item in again["items"]] == [int(between.seq)]
    assert again["last_seq"] == upto  # the answer's cursor never goes back
    older = p_calls(cluster, cid, "POST", "outbox/ack", {"upto": upto})
    assert older == {"acked": 1, "upto": upto}


@pytest.mark.parametrize(
    "body",
    [{"upto": 5, "seqs": [6]}, {"upto": 5, "seqs": "5"}, {"upto": 5, "seqs": [True]}],
    ids=["above upto", "not a list", "not a number"],
)
def test_a_bad_ack_list_is_a_400_naming_it(cluster, body):
    from chalicelib.net.errors import PeerRefused

    cid = connect(cluster, acceptor="node-p", project="PRIV", destination=None)
    with pytest.raises(PeerRefused) as refused:
        p_calls(cluster, cid, "POST", "outbox/ack", body)
    assert refused.value.status == 400
