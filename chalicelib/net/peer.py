"""The node-API client: how this node calls the other end of a connection.

Every call goes through a :class:`~chalicelib.net.outbound.Fetcher` (the SSRF-guarded one
by default) and every call except ``/node/v1/info`` and the handshake carries a fresh
per-connection JWT. Answers are turned into values or into the errors of
:mod:`chalicelib.net.errors`: a contract error body becomes :class:`PeerRefused` with the
peer's status and code, anything else that is not a proper answer is :class:`Unreachable`
or :class:`NotTwinsync`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import msgspec

from chalicelib.connections.tokens import issue_token
from chalicelib.net.errors import NotTwinsync, PeerRefused, Unreachable
from chalicelib.net.outbound import Fetcher, HttpResponse

PROTOCOL = 1
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}


class NodeInfo(msgspec.Struct, frozen=True):
    """``GET /node/v1/info`` of a peer."""

    node_id: str
    name: str
    public: bool
    protocol: int
    modes: tuple[str, ...]


class PeerEnd(msgspec.Struct, frozen=True):
    """What is needed to call the other end of one connection."""

    url: str
    connection_id: str
    remote_node_id: str
    key: bytes


class PeerClient:
    """Calls other nodes on behalf of ``node_id``."""

    def __init__(
        self, *, node_id: str, fetch: Fetcher, clock: Callable[[], float] | None = None
    ) -> None:
        self.node_id = node_id
        self.fetch = fetch
        self.clock = clock

    # --- open calls ---------------------------------------------------------------------

    def info(self, base_url: str) -> NodeInfo:
        """Ask a URL whether it is a Twinsync node and which modes it offers."""
        response = self.fetch("GET", _join(base_url, "/node/v1/info"), headers=JSON_HEADERS)
        data = self._answer(response, base_url)
        try:
            info = NodeInfo(
                node_id=_str(data, "node_id"),
                name=_str(data, "name"),
                public=bool(data.get("public", False)),
                protocol=int(data["protocol"]),
                modes=tuple(str(m) for m in data["modes"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise NotTwinsync(f"{base_url} did not answer like a Twinsync node.") from exc
        if info.protocol != PROTOCOL:
            raise NotTwinsync(
                f"{base_url} speaks Twinsync protocol {info.protocol}; this node speaks {PROTOCOL}."
            )
        return info

    def handshake(self, base_url: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /node/v1/handshake`` on the initiator (the proof is inside ``body``)."""
        response = self.fetch(
            "POST",
            _join(base_url, "/node/v1/handshake"),
            headers=JSON_HEADERS,
            body=json.dumps(body).encode("utf-8"),
        )
        return self._answer(response, base_url)

    # --- authenticated calls ------------------------------------------------------------

    def call(
        self, end: PeerEnd, method: str, path: str, body: Any = None
    ) -> dict[str, Any] | list[Any]:
        """One JWT-authenticated node-API call on connection ``end``; the JSON answer."""
        now = self.clock() if self.clock else None
        data = None if body is None else json.dumps(body).encode("utf-8")
        token = issue_token(
            end.key,
            issuer=self.node_id,
            audience=end.remote_node_id,
            connection_id=end.connection_id,
            now=now,
            body=data,  # the token is good for these bytes only (``bsh``)
        )
        headers = {**JSON_HEADERS, "Authorization": f"Bearer {token}"}
        response = self.fetch(method, _join(end.url, path), headers=headers, body=data)
        return self._answer(response, end.url, allow_list=True)

    def send_status(self, end: PeerEnd, status: str, reason: str | None) -> dict[str, Any]:
        """Tell the other end that this end was deactivated, activated or deleted."""
        path = f"/node/v1/connections/{quote(end.connection_id, safe='')}/status"
        answer = self.call(end, "POST", path, {"status": status, "reason": reason})
        return answer if isinstance(answer, dict) else {}

    def get_status(self, end: PeerEnd) -> dict[str, Any]:
        """Ask the other end how its end of the connection is."""
        path = f"/node/v1/connections/{quote(end.connection_id, safe='')}/status"
        answer = self.call(end, "GET", path)
        return answer if isinstance(answer, dict) else {}

    # --- answers ------------------------------------------------------------------------

    def _answer(self, response: HttpResponse, base_url: str, *, allow_list: bool = False) -> Any:
        if response.status == 204:
            return {}
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            data = None
        if 400 <= response.status < 500:
            error = data.get("error") if isinstance(data, dict) else None
            if isinstance(error, dict) and isinstance(error.get("code"), str):
                raise PeerRefused(
                    str(error.get("message", "")),
                    status=response.status,
                    code=error["code"],
                    field=error.get("field") if isinstance(error.get("field"), str) else None,
                )
            raise NotTwinsync(f"{base_url} answered {response.status}, not like a Twinsync node.")
        if response.status >= 500:
            raise Unreachable(f"{base_url} failed with status {response.status}.")
        if not 200 <= response.status < 300:
            raise NotTwinsync(f"{base_url} answered {response.status}.")
        if isinstance(data, dict) or (allow_list and isinstance(data, list)):
            return data
        raise NotTwinsync(f"{base_url} did not answer with JSON.")


def _join(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise ValueError(key)
    return value
