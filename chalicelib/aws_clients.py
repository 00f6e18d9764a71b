"""The one way the deployed code makes an AWS client: from botocore, without boto3.

``boto3.client(name)`` returns a botocore client made by boto3's default session; importing
boto3 for it also loads boto3's resource layer and s3transfer, about 14 ms of CPU on every
cold start (issue 19; ``bench/coldstart.py``) for nothing our functions use. The clients
made here are the same objects (``generate_presigned_url`` included); the session resolves
credentials, region and ``AWS_ENDPOINT_URL`` from the environment as boto3's does. Tests,
the devstack and the benches keep using boto3 against moto: the API is the same.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


def client(service: str, *, region: str | None = None, config: Any = None) -> Any:
    """A new client of ``service`` (callers cache theirs: a client costs a model load)."""
    return _session().create_client(service, region_name=region, config=config)


@lru_cache(maxsize=1)
def _session() -> Any:
    """One botocore session per process, like boto3's default session."""
    import botocore.session

    return botocore.session.get_session()
