"""The guarded fetcher over a real socket on loopback, and the jti registry on moto."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.connections.replay import KeyTableJtiRegistry
from chalicelib.connections.tokens import Claims
from chalicelib.net.errors import Unreachable
from chalicelib.net.outbound import GuardedFetcher
from chalicelib.net.ssrf import OutboundPolicy


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/")
            self.end_headers()
            return
        body = f"host={self.headers['Host']}".encode()
        if self.path == "/big":
            body = b"z" * 5000
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def pinned_to_loopback(host, port):
    """``peer.test`` does not exist in DNS: reaching it proves the pinned address is used."""
    assert host == "peer.test"
    return ["127.0.0.1"]


def test_the_checked_address_is_the_one_connected_to(server):
    fetch = GuardedFetcher(OutboundPolicy(allow_private=True), resolve=pinned_to_loopback)
    answer = fetch("GET", f"http://peer.test:{server}/hello")
    assert answer.status == 200
    assert answer.body == f"host=peer.test:{server}".encode()


def test_a_real_redirect_is_not_followed(server):
    fetch = GuardedFetcher(OutboundPolicy(allow_private=True), resolve=pinned_to_loopback)
    with pytest.raises(Unreachable, match="redirect"):
        fetch("GET", f"http://peer.test:{server}/redirect")


def test_a_real_oversized_answer_is_cut(server):
    fetch = GuardedFetcher(
        OutboundPolicy(allow_private=True), resolve=pinned_to_loopback, max_bytes=1000
    )
    with pytest.raises(Unreachable, match="more than 1000"):
        fetch("GET", f"http://peer.test:{server}/big")


def test_a_closed_port_is_unreachable():
    fetch = GuardedFetcher(
        OutboundPolicy(allow_private=True), resolve=lambda h, p: ["127.0.0.1"], timeout=(1, 1)
    )
    with pytest.raises(Unreachable):
        fetch("GET", "http://peer.test:9/")


def claims(jti="jti-0123456789", exp=4_000_000_000):
    return Claims(
        issuer="node-b",
        audience="node-a",
        connection_id="c1",
        issued_at=exp - 60,
        expires_at=exp,
        jti=jti,
    )


def test_a_jti_is_claimed_once(node):
    registry = KeyTableJtiRegistry()
    assert registry.claim(claims()) is True
    assert registry.claim(claims()) is False
    assert registry.claim(claims(jti="jti-other-000000")) is True


def test_an_expired_registry_item_is_treated_as_absent(node):
    from chalicelib.store.models import KeyModel

    # expired long ago, but DynamoDB's TTL has not removed it yet
    stale = datetime(2000, 1, 1, tzinfo=UTC)
    KeyModel(key="jti#node-b#jti-0123456789", value="c1", expires_at=stale).save()
    assert KeyTableJtiRegistry().claim(claims()) is True
    assert KeyModel.get("jti#node-b#jti-0123456789").expires_at > stale
