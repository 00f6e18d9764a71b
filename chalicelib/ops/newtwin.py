"""Recording a new twin only if there is none: operations never overwrite a twin record.

Twins have no whole-item version (ingest and apply update their own attributes of the
same twin concurrently), so "create" must say so itself: a conditional put on the key.
Two operations racing for one issue (a trigger and a bulk job, say) then make one twin.
"""

from __future__ import annotations

from pynamodb.exceptions import PutError

from chalicelib.store.keys import condition_failed
from chalicelib.store.models import TwinModel


def save_new(twin: TwinModel) -> bool:
    """Put ``twin`` if its connection has no twin for that local key yet; True if it did."""
    try:
        twin.save(condition=TwinModel.local_key.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True
