"""The tracker's HTTP chokepoint over real sockets on loopback: redirects, timeouts, refusals.

Jira Cloud answers an attachment's content with a redirect to its media store, another
host: urllib3 follows it and leaves the ``Authorization`` header behind. Two servers on
loopback stand for the two hosts (``127.0.0.1`` and ``localhost`` are different hosts to
urllib3). The sandbox Jira (tests/contract) covers the rest of the adapters over HTTP.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.trackers.base import Unavailable
from chalicelib.trackers.http import JiraHttp, cloud_auth
from chalicelib.trackers.jira_cloud import JiraCloud


class Recorder(BaseHTTPRequestHandler):
    """Records each request's path and headers; answers by path."""

    seen: list[tuple[str, dict[str, str]]]
    media: str = ""

    def do_GET(self):
        self.seen.append((self.path, dict(self.headers)))
        if self.path.startswith("/rest/api/3/attachment/content/"):
            self.send_response(303)
            self.send_header("Location", f"{self.media}/file/abc/binary?token=signed")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/here")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/slow":
            time.sleep(1.5)  # the client has given up: nothing to answer
            return
        body = b"file-bytes" if self.path.startswith("/file/") else b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(seen: list, media: str = "") -> tuple[ThreadingHTTPServer, threading.Thread]:
    handler = type("Handler", (Recorder,), {"seen": seen, "media": media})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return httpd, thread


@pytest.fixture
def sites() -> Iterator[tuple[str, list, list]]:
    """(Jira's URL, the requests Jira got, the requests the media store got)."""
    jira_seen: list = []
    media_seen: list = []
    media, media_thread = serve(media_seen)
    media_url = f"http://localhost:{media.server_address[1]}"
    jira, jira_thread = serve(jira_seen, media_url)
    yield f"http://127.0.0.1:{jira.server_address[1]}", jira_seen, media_seen
    for httpd, thread in ((jira, jira_thread), (media, media_thread)):
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_a_download_follows_the_redirect_to_another_host_without_the_credentials(sites):
    url, jira_seen, media_seen = sites
    cloud = JiraCloud(url, "bot@acme.test", "cloud-api-token-SECRET")
    assert cloud.download_attachment("10010") == b"file-bytes"
    assert jira_seen[0][1]["Authorization"].startswith("Basic ")
    ((path, headers),) = media_seen
    assert path == "/file/abc/binary?token=signed"
    assert "Authorization" not in headers


def test_a_redirect_on_the_same_host_keeps_the_credentials(sites):
    url, jira_seen, _ = sites
    http = JiraHttp(url, cloud_auth("bot@acme.test", "t"))
    assert http.json("GET", "/moved") == {"ok": True}
    assert [p for p, _ in jira_seen] == ["/moved", "/here"]
    assert jira_seen[1][1]["Authorization"].startswith("Basic ")


def test_a_read_timeout_is_unavailable_after_one_request(sites):
    url, jira_seen, _ = sites
    http = JiraHttp(url, cloud_auth("bot@acme.test", "t"), timeout=(1.0, 0.3))
    with pytest.raises(Unavailable, match="in time"):
        http.json("GET", "/slow")
    assert len(jira_seen) == 1  # no retry


def test_a_refused_connection_is_unavailable():
    http = JiraHttp("http://127.0.0.1:9", cloud_auth("bot@acme.test", "t"), timeout=(1.0, 1.0))
    with pytest.raises(Unavailable, match="could not connect"):
        http.json("GET", "/rest/api/3/myself")
