"""The transport of :class:`chalicelib.net.outbound.GuardedFetcher`: a urllib3 connection pool
on the address the SSRF guard checked. Its own module so that importing the fetcher loads
no connection code (the fetcher imports this on its first request)."""

from __future__ import annotations

import os
from typing import Any

import urllib3

from chalicelib.net.ssrf import Target


def pinned_pool(target: Target, *, verify: bool | str = True) -> urllib3.HTTPConnectionPool:
    """A pool that connects to ``target``'s first checked address, whatever DNS answers now.

    HTTPS keeps the host name for SNI (``server_hostname``) and the certificate check
    (``assert_hostname``). ``verify``: ``True`` checks against the CA bundle botocore uses,
    a path: that bundle (a file) or a directory of CAs; ``False``: no check. No proxy: a
    connection pool never reads proxy variables from the environment.
    """
    address = target.addresses[0]
    if target.scheme != "https":
        return urllib3.HTTPConnectionPool(address, target.port)
    tls: dict[str, Any] = {"cert_reqs": "CERT_NONE", "assert_hostname": False}
    if verify is not False:
        if verify is True:
            from botocore.httpsession import get_cert_path

            verify = str(get_cert_path(True))
        where = "ca_cert_dir" if os.path.isdir(verify) else "ca_certs"
        tls = {"cert_reqs": "CERT_REQUIRED", "assert_hostname": target.host, where: verify}
    return urllib3.HTTPSConnectionPool(address, target.port, server_hostname=target.host, **tls)
