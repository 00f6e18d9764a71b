"""The transport of :class:`chalicelib.net.outbound.GuardedFetcher`: a ``requests`` adapter
pinned to the address the SSRF guard checked. Its own module so that importing the
fetcher does not import ``requests`` (the fetcher imports this on its first request)."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

from chalicelib.net.ssrf import Target


class PinnedAdapter(HTTPAdapter):
    """Connects to the address the guard checked, whatever DNS answers now."""

    def __init__(self, target: Target) -> None:
        self._target = target
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        host_params["host"] = self._target.addresses[0]
        if self._target.scheme == "https":
            pool_kwargs["server_hostname"] = self._target.host
            pool_kwargs["assert_hostname"] = self._target.host
        return host_params, pool_kwargs
