"""No DEBUG log of DynamoDB bodies carries a connection key (issue 13 item 10, in part).

botocore and PynamoDB log whole request and response bodies at DEBUG; the connection key
is in the connections table. Whatever ``TWINSYNC_LOG_LEVEL`` or the root logger says, the
composition root keeps those loggers at INFO or above.
"""

from __future__ import annotations

import logging

import pytest

from chalicelib.connections.keys import encode_key
from chalicelib.root import URL_LOGGERS, WIRE_LOGGERS, root
from chalicelib.root import reset as root_reset
from chalicelib.store.models import ConnectionModel
from tests.factories.connections import saved_connection
from tests.factories.fake_http import FakeHttp

KEY = b"\x07" * 32


@pytest.fixture
def debug_everything(node, caplog, monkeypatch):
    monkeypatch.setenv("TWINSYNC_LOG_LEVEL", "DEBUG")
    for name in (*WIRE_LOGGERS, *URL_LOGGERS):  # as a DEBUG stage or an earlier test left them
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    caplog.set_level(logging.DEBUG)
    root_reset()
    root()
    return caplog


def test_wire_loggers_stay_above_debug_whatever_the_level(debug_everything):
    assert root().settings.log_level == "DEBUG"
    for name in (*WIRE_LOGGERS, "botocore.parsers", "botocore.endpoint", "pynamodb.connection"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name


def test_saving_and_reading_a_connection_logs_no_key(debug_everything):
    saved_connection("conn-log", key=encode_key(KEY))
    ConnectionModel.get("conn-log", consistent_read=True)
    text = debug_everything.text
    assert encode_key(KEY) not in text


def test_sealing_and_opening_a_key_logs_no_key(debug_everything):
    """KMS's Decrypt answer carries the key itself (base64): the same loggers hold it."""
    import base64

    from chalicelib.connections.store import open_key, seal_key

    saved_connection("conn-kms", key=seal_key("conn-kms", KEY))
    root_reset()
    root()  # a new container: the key is opened by KMS, not remembered from sealing
    assert open_key(ConnectionModel.get("conn-kms", consistent_read=True)) == KEY
    text = debug_everything.text
    assert encode_key(KEY) not in text
    assert base64.b64encode(KEY).decode() not in text


def test_a_followed_redirect_logs_no_signed_url(debug_everything):
    """Jira Cloud sends an attachment's content to its media store with a signed URL;
    urllib3 logs followed redirects at INFO with the whole URL."""
    from chalicelib.trackers.jira_cloud import JiraCloud

    media = "https://api.media.atlassian.com/file/abc/binary?token=SIGNED-SECRET"
    with FakeHttp() as http:
        http.get(
            "https://acme.atlassian.net/rest/api/3/attachment/content/1",
            status=303,
            headers={"Location": media},
        )
        http.get(media, body=b"bytes")
        cloud = JiraCloud("https://acme.atlassian.net", "a@b.test", "t", pool=http.pool())
        assert cloud.download_attachment("1") == b"bytes"
    assert "SIGNED-SECRET" not in debug_everything.text
