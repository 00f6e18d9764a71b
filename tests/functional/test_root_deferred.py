"""The composition root builds what a function's first invocation does not use on first
use only (issue 19, cold start): the paced tracker adapter of ``root().sync`` (a webhook's
intake never calls the tracker), its S3 client, and the KMS client of the key sealer."""

from __future__ import annotations

from chalicelib.root import Deferred, Providers, root, use_providers
from chalicelib.trackers.paced import PacedTracker
from tests.factories.memory_tracker import MemoryTracker


def test_a_deferred_collaborator_is_built_once_on_its_first_attribute_read():
    built = []
    deferred = Deferred(lambda: built.append(1) or MemoryTracker(kind="jira_server"))
    assert built == []
    assert deferred.kind == "jira_server"
    assert deferred.myself().id and built == [1]
    assert getattr(deferred, "no_such_method", None) is None  # as on the collaborator
    assert built == [1]


def test_the_sync_collaborators_build_the_tracker_adapter_on_first_use(node):
    made = []

    def tracker(settings):
        made.append(settings.node_id)
        return MemoryTracker()

    with use_providers(Providers(tracker=tracker)):
        deps = root().sync
        assert made == []  # the sync deps exist: no adapter yet
        assert deps.tracker.kind == "jira_cloud"
        assert made == [root().settings.node_id]
        assert isinstance(deps.tracker.built(), PacedTracker)  # counted and capped as before
        deps.tracker.myself()
        assert len(made) == 1
