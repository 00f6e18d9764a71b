"""HTTP plumbing: request and response values, a small router, multipart parsing.

Kept apart from what the routes mean, so ``rest`` and ``admin_api`` read as tables of
endpoints and ``server`` as the one place where errors become responses.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, BinaryIO
from urllib.parse import parse_qs

from .errors import JiraError
from .store import UserRec

JSON_TYPE = "application/json;charset=UTF-8"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    user: UserRec | None = None
    version: int = 2

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def int_arg(self, name: str, default: int) -> int:
        raw = self.arg(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError as exc:
            raise JiraError(400, [f"The value '{raw}' for '{name}' is not a number."]) from exc

    def json(self) -> Any:
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise JiraError(400, [f"Unexpected character in the request body: {exc}"]) from exc


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = JSON_TYPE

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode()


Handler = Callable[[Any, Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler
    versions: tuple[int, ...]
    flavours: tuple[str, ...]
    auth: bool


class Router:
    """Routes declared as ``/rest/api/{v}/issue/{key}``; ``{v}`` is the API version."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        pattern: str,
        *,
        versions: tuple[int, ...] = (2, 3),
        flavours: tuple[str, ...] = ("cloud", "server"),
        auth: bool = True,
    ) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$"
            self.routes.append(
                Route(method, pattern, re.compile(regex), handler, versions, flavours, auth)
            )
            return handler

        return decorator

    def match(self, method: str, path: str, flavour: str) -> tuple[Route, dict[str, str]]:
        allowed = False
        for route in self.routes:
            found = route.regex.match(path)
            if not found or flavour not in route.flavours:
                continue
            params = dict(found.groupdict())
            if "v" in params:
                version = {"latest": 3 if flavour == "cloud" else 2}.get(params["v"], params["v"])
                if not str(version).isdigit() or int(version) not in route.versions:
                    continue
                if flavour == "server" and int(version) != 2:
                    continue
                params["v"] = str(version)
            if route.method != method:
                allowed = True
                continue
            return route, params
        if allowed:
            raise JiraError(405, ["Method Not Allowed"])
        raise JiraError(404, ["null for uri: " + path])


def read_body(stream: BinaryIO, headers: Message) -> bytes:
    """The request body, by ``Content-Length`` or in ``Transfer-Encoding: chunked`` form."""
    if "chunked" in str(headers.get("Transfer-Encoding", "")).lower():
        chunks = []
        while True:
            size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while stream.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(stream.read(size))
            stream.readline()
    length = int(headers.get("Content-Length") or 0)
    return stream.read(length) if length else b""


def parse_query(raw: str) -> dict[str, list[str]]:
    return parse_qs(raw, keep_blank_values=True)


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    mime_type: str
    data: bytes


def parse_multipart(content_type: str, body: bytes, field_name: str = "file") -> list[UploadedFile]:
    """The files of a ``multipart/form-data`` body sent under ``field_name``."""
    if not content_type.lower().startswith("multipart/form-data"):
        return []
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    files = []
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") != field_name:
            continue
        filename = part.get_filename() or "attachment"
        data = part.get_payload(decode=True) or b""
        mime = part.get_content_type()
        if mime in ("application/octet-stream", "text/plain") and not part.get("content-type"):
            mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        files.append(UploadedFile(filename, mime, data))
    return files
