"""What a destination URL is, before initiating: ``GET /api/v1/destinations/info?url=``.

The "Initiate connection" wizard offers only the configuration types the destination
offers (the reference pages: "Exalate suggests available Configuration Modes based on the
destination instance"). This node asks ``{url}/node/v1/info`` through the SSRF-guarded peer
client, as :func:`chalicelib.ops.initiate.initiate` does, with the same refusals:

- ``400 destination_url_not_allowed``: not an http(s) URL, or one this node may not call;
- ``422 destination_unreachable``: no answer, or not a Twinsync node of protocol 1.

This node's own URL is answered from its settings without a call (``local: true``): with it
the wizard makes a local connection between two projects of this tracker.
"""

from __future__ import annotations

import msgspec

from chalicelib.config import Settings
from chalicelib.connections import validation
from chalicelib.errors import BadRequest, Unprocessable
from chalicelib.net.errors import PeerRefused, Unreachable, UrlNotAllowed
from chalicelib.net.peer import NodeInfo, PeerClient
from chalicelib.ops.connection_setup import same_url

HINT = (
    " Check the URL (the partner's admin reads it from GET /api/v1/node, field "
    'public_url). If the destination has no public URL, choose "I don\'t have a URL" '
    "(send destination_url: null) and give its admin the invitation code."
)


class Destination(msgspec.Struct, frozen=True):
    """What ``GET /api/v1/destinations/info`` answers."""

    url: str
    node_id: str
    name: str
    public: bool
    modes: tuple[str, ...]
    local: bool

    def to_resource(self) -> dict[str, object]:
        return {
            "url": self.url,
            "node_id": self.node_id,
            "name": self.name,
            "public": self.public,
            "modes": list(self.modes),
            "local": self.local,
        }


def ask(peer: PeerClient, url: str, *, field: str = "destination_url") -> NodeInfo:
    """``GET {url}/node/v1/info``, its failures as the contract's refusals naming ``field``."""
    try:
        return peer.info(url)
    except UrlNotAllowed as exc:
        raise BadRequest(
            f"This node may not call {url}: {exc.message}{HINT}",
            code="destination_url_not_allowed",
            field=field,
        ) from exc
    except (Unreachable, PeerRefused) as exc:
        raise Unprocessable(
            f"{url} could not be reached as a Twinsync node ({exc.message}).{HINT}",
            code="destination_unreachable",
            field=field,
        ) from exc


def destination_info(url: object, *, settings: Settings, peer: PeerClient) -> Destination:
    """The destination at ``url``: its node id, name, public flag and modes."""
    if url is None or (isinstance(url, str) and not url.strip()):
        raise BadRequest(
            "Give the destination instance URL in the query: ?url=https://partner.example.",
            code="missing_field",
            field="url",
        )
    checked = validation.checked_url(
        url.strip() if isinstance(url, str) else url,
        field="url",
        label="url (the partner's public URL)",
        code="destination_url_not_allowed",
    )
    if same_url(checked, settings.public_url):
        return _this_node(checked, settings)
    info = ask(peer, checked, field="url")
    if info.node_id == settings.node_id:
        return _this_node(checked, settings)
    return Destination(
        url=checked.rstrip("/"),
        node_id=info.node_id,
        name=info.name,
        public=info.public,
        modes=info.modes,
        local=False,
    )


def _this_node(url: str, settings: Settings) -> Destination:
    return Destination(
        url=url.rstrip("/"),
        node_id=settings.node_id,
        name=settings.node_name,
        public=settings.is_public,
        modes=tuple(settings.modes),
        local=True,
    )
