"""The guarded fetcher over a real socket on loopback, and the jti registry on moto."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from urllib3.exceptions import InsecureRequestWarning

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


# --- TLS: the pinned address, the name kept for SNI and the certificate check -------------


def certificate(tmp_path, name: str) -> tuple[str, str, str]:
    """A CA and a server certificate for ``name`` signed by it: (CA file, cert, key)."""
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def build(subject, issuer, key, signer, *, ca: bool, san: str | None = None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("test CA", "test CA", ca_key, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = build(name, "test CA", key, ca_key, ca=False, san=name)
    pem = serialization.Encoding.PEM
    paths = (tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem")
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(leaf.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(paths[0]), str(paths[1]), str(paths[2])


@pytest.fixture
def tls_server(tmp_path) -> Iterator[tuple[int, str]]:
    """An HTTPS server on loopback with a certificate for ``peer.test``: (port, CA file)."""
    import ssl

    ca, cert, key = certificate(tmp_path, "peer.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd.server_address[1], ca
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def loopback(host, port):
    return ["127.0.0.1"]


def test_tls_to_the_checked_address_verifies_the_host_name(tls_server):
    port, ca = tls_server
    fetch = GuardedFetcher(OutboundPolicy(allow_private=True), resolve=loopback, verify=ca)
    answer = fetch("GET", f"https://peer.test:{port}/hello")
    assert answer.status == 200
    assert answer.body == f"host=peer.test:{port}".encode()


def test_tls_with_a_certificate_for_another_name_is_refused(tls_server):
    port, ca = tls_server
    fetch = GuardedFetcher(OutboundPolicy(allow_private=True), resolve=loopback, verify=ca)
    with pytest.raises(Unreachable, match="did not answer"):
        fetch("GET", f"https://other.test:{port}/hello")


def test_tls_is_verified_by_default_and_unverified_only_when_asked(tls_server):
    port, _ = tls_server
    checked = GuardedFetcher(OutboundPolicy(allow_private=True), resolve=loopback)
    with pytest.raises(Unreachable):  # our test CA is not in botocore's bundle
        checked("GET", f"https://peer.test:{port}/hello")
    unchecked = GuardedFetcher(OutboundPolicy(allow_private=True), resolve=loopback, verify=False)
    with pytest.warns(InsecureRequestWarning):  # urllib3 says so, as requests did
        assert unchecked("GET", f"https://peer.test:{port}/hello").status == 200


def test_a_tracker_over_tls_checks_the_certificate(tls_server):
    """JiraHttp verifies against botocore's bundle: a certificate from an unknown CA is a
    failed connection (Unavailable, as requests' SSLError, a ConnectionError, was)."""
    from chalicelib.trackers.base import Unavailable
    from chalicelib.trackers.http import JiraHttp, cloud_auth

    port, _ = tls_server
    http = JiraHttp(f"https://localhost:{port}", cloud_auth("bot@acme.test", "t"))
    with pytest.raises(Unavailable, match="could not connect"):
        http.json("GET", "/hello")
