"""This node as others see it: identity, protocol version, and (to its admin) its version."""

from __future__ import annotations

from typing import Any

from chalicelib.config import Settings
from chalicelib.version import __version__

PROTOCOL_VERSION = 1


def node_resource(settings: Settings) -> dict[str, Any]:
    """``GET /api/v1/node``: what the admin copies to give a partner (the public URL)."""
    return {
        "node_id": settings.node_id,
        "name": settings.node_name,
        "public_url": settings.public_url,
        "tracker": {"kind": settings.tracker.kind, "url": settings.tracker.url},
        "modes": list(settings.modes),
        "version": __version__,
    }
