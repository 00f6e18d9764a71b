"""What Jira Cloud and Jira Server have in common: JSON shapes and most operations.

The two REST APIs (v3 on Cloud, v2 on Server/DC) share paths and shapes except for
rich-text bodies (ADF vs wiki markup), user ids (``accountId`` vs ``key``/``name``),
search paging, project metadata and attachment downloads. The parsers here read both;
``JiraTracker`` implements every operation that is the same, and the adapters
(``jira_cloud``, ``jira_server``) fill in the rest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from chalicelib.trackers.base import (
    DEFAULT_PRIVATE_VISIBILITY,
    Attachment,
    Body,
    BodyFormat,
    Comment,
    CommentVisibility,
    FieldChange,
    InvalidRequest,
    Issue,
    IssueFields,
    IssueRef,
    NotFound,
    Project,
    RemoteLink,
    SearchPage,
    TooLarge,
    TrackerError,
    User,
    Worklog,
    utc_time,
)
from chalicelib.trackers.changes import user_id as user_id
from chalicelib.trackers.http import JiraHttp
from chalicelib.trackers.jira_catalog import parse_catalog
from chalicelib.trackers.jira_relations import JiraRelations, parse_links, parse_parent
from chalicelib.trackers.jira_worklogs import parse_worklog

# Fields that ``Issue`` carries in its own attributes; the rest go to ``Issue.fields``.
STANDARD_FIELDS = frozenset(
    {
        "summary",
        "description",
        "issuetype",
        "labels",
        "priority",
        "status",
        "created",
        "updated",
        "comment",
        "attachment",
        "project",
    }
)
# JSM's way of marking a comment internal; a plain property, ignored, on Jira Software:
# a comment is restricted by its ``visibility``.
INTERNAL_COMMENT_PROPERTY = "sd.public.comment"
COMMENT_PAGE = 100
MAX_COMMENTS = 5000
CUSTOM_FIELD_ID = re.compile(r"^customfield_\d+$")
APPLICATION_TYPE = "io.twinsync"  # a remote link's application type (no rendering app)


# --- parsing ----------------------------------------------------------------------------


def parse_user(data: Mapping[str, Any] | None) -> User | None:
    """A ``User`` from Jira's user JSON, or ``None`` (anonymous, deleted, absent)."""
    uid = user_id(data)
    if uid is None or data is None:
        return None
    email = data.get("emailAddress")
    username = data.get("name") if not data.get("accountId") else None
    return User(
        id=uid,
        name=str(data.get("displayName") or data.get("name") or uid),
        email=str(email) if email else None,
        username=str(username) if username else None,
    )


def parse_body(value: Any, body_format: BodyFormat) -> Body | None:
    """A body in the tracker's own format; ``None`` when the field is empty."""
    if value is None or value == "":
        return None
    return Body(body_format, value)


def parse_comment(data: Mapping[str, Any], body_format: BodyFormat) -> Comment:
    author = parse_user(data.get("author")) or User(id="", name="Anonymous")
    # ``visibility`` (a role or group) restricts a comment wherever it is set. Cloud says
    # ``jsdPublic: true`` of every comment made in the platform, restricted ones included;
    # only in a Service Management project does ``jsdPublic: false`` mark an internal one.
    public = not data.get("visibility") and data.get("jsdPublic") is not False
    return Comment(
        id=str(data["id"]),
        author=author,
        created=str(data.get("created") or ""),
        updated=str(data.get("updated") or data.get("created") or ""),
        body=parse_body(data.get("body"), body_format) or Body(body_format, _empty(body_format)),
        public=public,
    )


def parse_attachment(data: Mapping[str, Any]) -> Attachment:
    return Attachment(
        id=str(data["id"]),
        filename=str(data.get("filename") or ""),
        size=int(data.get("size") or 0),
        mime_type=str(data.get("mimeType") or "application/octet-stream"),
        created=str(data.get("created") or ""),
        author=parse_user(data.get("author")),
    )


def _name(value: Any) -> str | None:
    if isinstance(value, Mapping):
        name = value.get("name")
        return str(name) if name is not None else None
    return None


def _empty(body_format: BodyFormat) -> Any:
    return {"type": "doc", "version": 1, "content": []} if body_format == "adf" else ""


def browse_url(base_url: str, key: str) -> str:
    return f"{base_url.rstrip('/')}/browse/{key}"


def parse_issue(
    data: Mapping[str, Any],
    *,
    base_url: str,
    body_format: BodyFormat,
    comments: list[Mapping[str, Any]] | None = None,
    worklogs: list[Worklog] | None = None,
) -> Issue:
    """An ``Issue`` from Jira's issue JSON; ``comments`` overrides the embedded (paged) list.

    ``Issue.fields`` holds the other fields by id and, when the JSON carries ``names``
    (``expand=names``), by name as well: scripts and mappings say ``fields["Customer"]``.
    """
    fields: Mapping[str, Any] = data.get("fields") or {}
    key = str(data["key"])
    if comments is None:
        comments = list((fields.get("comment") or {}).get("comments") or [])
    project = fields.get("project") or {}
    return Issue(
        id=str(data.get("id") or ""),
        key=key,
        project=str(project.get("key") or key.rsplit("-", 1)[0]),
        url=browse_url(base_url, key),
        summary=str(fields.get("summary") or ""),
        description=parse_body(fields.get("description"), body_format),
        issue_type=_name(fields.get("issuetype")) or "",
        labels=tuple(str(label) for label in fields.get("labels") or ()),
        priority=_name(fields.get("priority")),
        status=_name(fields.get("status")),
        created=str(fields.get("created") or ""),
        updated=str(fields.get("updated") or ""),
        comments=tuple(parse_comment(c, body_format) for c in comments),
        attachments=tuple(parse_attachment(a) for a in fields.get("attachment") or ()),
        fields=_other_fields(fields, data.get("names")),
        changed_at=_changed_at(data.get("changelog")),
        history=parse_history(data.get("changelog")),
        links=parse_links(fields.get("issuelinks")),
        parent=parse_parent(fields, data.get("names")),
        **parse_catalog(fields, body_format),
        assignee=parse_user(fields.get("assignee")),
        reporter=parse_user(fields.get("reporter")),
        worklogs=tuple(worklogs) if worklogs is not None else _worklogs(fields, body_format),
        resolution=_name(fields.get("resolution")),
    )


def _worklogs(fields: Mapping[str, Any], body_format: BodyFormat) -> tuple[Worklog, ...]:
    """The worklogs the issue includes (``fields.worklog``: the first 20 at most)."""
    embedded = fields.get("worklog")
    listed = embedded.get("worklogs") if isinstance(embedded, Mapping) else None
    return tuple(
        parse_worklog(w, body_format, parse_user(w.get("author")))
        for w in listed or ()
        if isinstance(w, Mapping) and w.get("id") is not None
    )


def _changed_at(changelog: Any) -> dict[str, str]:
    """When each field last changed (``expand=changelog``; Cloud lists the newest history
    first, Server the oldest: the latest time wins either way)."""
    latest: dict[str, str] = {}
    histories = changelog.get("histories") if isinstance(changelog, Mapping) else None
    for history in histories or ():
        if not isinstance(history, Mapping):
            continue
        created = str(history.get("created") or "")
        for item in history.get("items") or ():
            name = str(item.get("field") or "").lower() if isinstance(item, Mapping) else ""
            when = utc_time(created)  # sortable whatever the histories' offsets
            if name and when and when > latest.get(name, ""):
                latest[name] = when
    return latest


def parse_history(changelog: Any) -> tuple[FieldChange, ...]:
    """The changelog's field changes, oldest first whatever the order Jira lists them in
    (Cloud the newest history first, Server the oldest; histories of one time by id)."""
    histories = changelog.get("histories") if isinstance(changelog, Mapping) else None
    ordered: list[tuple[str, int, int, FieldChange]] = []
    for number, history in enumerate(histories or ()):
        if not isinstance(history, Mapping):
            continue
        at = utc_time(str(history.get("created") or ""))
        if not at:
            continue
        raw_id = str(history.get("id") or "")
        order = int(raw_id) if raw_id.isdigit() else number
        author = user_id(history.get("author"))
        for item in history.get("items") or ():
            if not isinstance(item, Mapping) or not item.get("field"):
                continue
            to, text = item.get("to"), item.get("toString")
            change = FieldChange(
                field=str(item["field"]).lower(),
                at=at,
                author_id=author,
                to=str(to) if to is not None else None,
                to_string=str(text) if text is not None else None,
            )
            ordered.append((at, order, len(ordered), change))
    return tuple(change for *_, change in sorted(ordered, key=lambda x: x[:3]))


def _other_fields(fields: Mapping[str, Any], names: Any) -> dict[str, Any]:
    """Fields beyond ``Issue``'s own attributes, by id, plus custom ones by name."""
    out = {k: v for k, v in fields.items() if k not in STANDARD_FIELDS and v is not None}
    if isinstance(names, Mapping):
        for field_id, value in list(out.items()):
            name = names.get(field_id)
            if CUSTOM_FIELD_ID.match(field_id) and isinstance(name, str) and name not in out:
                out[name] = value
    return out


def transition_screen_values(fields: Any, resolution_wanted: str | None = None) -> dict[str, Any]:
    """Values for the required fields of a transition's screen that Twinsync can choose.

    Jira's classic "Resolve Issue" screen requires a resolution on the way to Done: send
    ``Done`` when it is allowed, else the first allowed value. Other required fields are
    left out; Jira then refuses the transition with its field error, which is reported.
    Issue 18: ``resolution_wanted`` (a resolution the rules planned, see ``update_issue``)
    is sent instead whenever the screen carries a resolution it allows.
    """
    if not isinstance(fields, Mapping):
        return {}
    out: dict[str, Any] = {}
    resolution = fields.get("resolution")
    if isinstance(resolution, Mapping) and resolution_wanted:
        allowed = [v for v in resolution.get("allowedValues") or () if isinstance(v, Mapping)]
        low = resolution_wanted.lower()
        planned = next((v for v in allowed if str(v.get("name")).lower() == low), None)
        if planned is not None:
            out["resolution"] = (
                {"id": str(planned["id"])} if planned.get("id") else {"name": planned["name"]}
            )
            return out
    if isinstance(resolution, Mapping) and resolution.get("required"):
        allowed = [v for v in resolution.get("allowedValues") or () if isinstance(v, Mapping)]
        chosen = next((v for v in allowed if str(v.get("name")).lower() == "done"), None)
        chosen = chosen or (allowed[0] if allowed else {"name": "Done"})
        out["resolution"] = {"id": str(chosen["id"])} if chosen.get("id") else {"name": "Done"}
    return out


def jql_quote(value: str) -> str:
    """A JQL string literal: double quotes, with backslashes and quotes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def issue_types(raw: Any) -> list[Mapping[str, Any]]:
    """Issue types one can create at top level (sub-tasks need a parent; left out)."""
    return [t for t in raw or () if isinstance(t, Mapping) and not t.get("subtask")]


def subtask_types(raw: Any) -> list[str]:
    """The names of the sub-task types among ``raw`` (issue 18)."""
    return [str(t["name"]) for t in raw or () if isinstance(t, Mapping) and t.get("subtask")]


def project_from(
    data: Mapping[str, Any],
    types: list[str],
    default: str | None,
    subtasks: list[str] | None = None,
) -> Project:
    return Project(
        key=str(data["key"]),
        name=str(data.get("name") or data["key"]),
        issue_types=tuple(types),
        default_issue_type=default,
        subtask_types=tuple(subtasks or ()),
    )


# --- the shared adapter -----------------------------------------------------------------


class JiraTracker(JiraRelations):
    """The operations Jira Cloud and Jira Server do alike; subclasses set the differences.

    ``api`` is the REST prefix (``/rest/api/3`` or ``/rest/api/2``), ``body_format`` the
    rich-text format of descriptions and comments. Bodies in another format are converted
    on write through ``chalicelib.trackers.formats``; reads return the tracker's own.
    """

    kind: ClassVar[str]
    body_format: BodyFormat
    api: ClassVar[str]
    # ``find_issues_with_property`` reads the property of at most this many recent issues.
    max_property_candidates: ClassVar[int] = 100

    def __init__(self, http: JiraHttp, *, attachment_limit: int | None = None) -> None:
        self.http = http
        self.attachment_limit = attachment_limit
        self._field_ids: dict[str, str] | None = None  # lower-cased field name -> field id
        self._known_ids: set[str] = set()
        # issue 18: issue key -> a resolution the edit screen refused, for its next
        # transition's screen (see ``update_issue``)
        self._pending_resolution: dict[str, str] = {}

    @property
    def base_url(self) -> str:
        return self.http.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    # paths ------------------------------------------------------------------------------

    def _issue_path(self, key: str, *rest: str) -> str:
        parts = [quote(str(key), safe=""), *(quote(str(p), safe="") for p in rest)]
        return f"{self.api}/issue/" + "/".join(parts)

    # bodies -----------------------------------------------------------------------------

    def own_body(self, body: Body) -> Any:
        """The value to send for ``body`` in this tracker's format (``None`` clears a field)."""
        if body.value is None:
            return None
        if body.format == self.body_format:
            return body.value
        from chalicelib.trackers import formats  # lazy: only writes across formats need it

        return formats.convert(body.format, body.value, self.body_format)

    def fields_payload(self, fields: IssueFields) -> dict[str, Any]:
        """Jira's ``fields`` object for a create or edit; only what ``fields`` sets."""
        out: dict[str, Any] = {}
        if fields.summary is not None:
            out["summary"] = fields.summary
        if fields.description is not None:
            out["description"] = self.own_body(fields.description)
        if fields.issue_type is not None:
            out["issuetype"] = {"name": fields.issue_type}
        if fields.labels is not None:
            out["labels"] = list(fields.labels)
        if fields.priority is not None:
            out["priority"] = {"name": fields.priority}
        for name, value in fields.custom.items():
            out[self.field_id(name)] = value
        out.update(self.catalog_payload(fields))  # issue 18 (jira_relations.py)
        return out

    def parse_author(self, data: Any) -> User | None:
        """A user from Jira's JSON (for ``jira_relations``, which cannot import this module)."""
        return parse_user(data)

    # fields by name -----------------------------------------------------------------------

    def field_ids(self, *, refresh: bool = False) -> dict[str, str]:
        """Field name (lower-cased) -> field id, from ``GET field``; read once, then cached.

        A custom field wins over a system field of the same name (``custom`` in a plan
        means custom fields); among custom fields of one name, the first listed wins.
        """
        if self._field_ids is None or refresh:
            listed = self.http.json("GET", f"{self.api}/field") or []
            ids: dict[str, str] = {}
            items = [f for f in listed if isinstance(f, Mapping) and f.get("id")]
            for item in sorted(items, key=lambda f: not f.get("custom")):
                ids.setdefault(str(item.get("name") or "").lower(), str(item["id"]))
            self._field_ids = ids
            self._known_ids = {str(f["id"]) for f in items}
        return self._field_ids

    def field_id(self, name: str) -> str:
        """The Jira field id for a field name (or an id, kept); ``InvalidRequest`` if unknown.

        An unknown name reads the field list again once: the field may be new since.
        """
        if CUSTOM_FIELD_ID.match(name):
            return name
        for refresh in (False, True):
            ids = self.field_ids(refresh=refresh)
            if name.lower() in ids:
                return ids[name.lower()]
            if name in self._known_ids:
                return name
        raise InvalidRequest(
            f"This Jira has no field named {name!r}: check the name in the sync rules "
            "(custom fields go by their name as Jira shows it)",
            field_errors={name: "no such field"},
            status=None,
        )

    # workflow -----------------------------------------------------------------------------

    def transition_issue(self, key: str, to_status: str) -> bool:
        """Move the issue along a workflow transition to ``to_status`` (the status name,
        compared case-insensitively). ``False`` when no transition available now leads
        there; ``True`` when the issue is in that status afterwards (or already was)."""
        wanted = to_status.strip().lower()
        listed = (
            self.http.json(
                "GET", self._issue_path(key, "transitions"), params={"expand": "transitions.fields"}
            )
            or {}
        )
        for item in listed.get("transitions") or ():
            target = item.get("to") if isinstance(item, Mapping) else None
            if isinstance(target, Mapping) and str(target.get("name") or "").lower() == wanted:
                payload: dict[str, Any] = {"transition": {"id": str(item["id"])}}
                planned = self._pending_resolution.get(key)
                screen = transition_screen_values(item.get("fields"), planned)
                if planned and "resolution" in screen:
                    del self._pending_resolution[key]  # on this screen: sent
                if screen:
                    payload["fields"] = screen
                self.http.json("POST", self._issue_path(key, "transitions"), json=payload)
                return True
        current = self.http.json("GET", self._issue_path(key), params={"fields": "status"})
        status = _name(((current or {}).get("fields") or {}).get("status")) or ""
        return status.lower() == wanted

    # users and issues -------------------------------------------------------------------

    def myself(self) -> User:
        data = self.http.json("GET", f"{self.api}/myself")
        user = parse_user(data)
        if user is None:
            raise TrackerError("Jira did not say who the integration user is")
        return user

    def get_issue(self, key: str) -> Issue:
        # ``names``: custom fields are offered by name too (see ``parse_issue``)
        # ``changelog``: when each field last changed (the merge stamps a change with it)
        data = self.http.json("GET", self._issue_path(key), params={"expand": "names,changelog"})
        embedded = (data.get("fields") or {}).get("comment") or {}
        comments = None
        listed = embedded.get("comments") or []
        if int(embedded.get("total") or 0) > len(listed):
            comments = self._all_comments(key)
        worklog = (data.get("fields") or {}).get("worklog")
        worklogs = None
        if isinstance(worklog, Mapping) and int(worklog.get("total") or 0) > len(
            worklog.get("worklogs") or []
        ):
            worklogs = self.list_worklogs(key)  # the issue includes only the first 20
        return parse_issue(
            data,
            base_url=self.base_url,
            body_format=self.body_format,
            comments=comments,
            worklogs=worklogs,
        )

    def _all_comments(self, key: str) -> list[Mapping[str, Any]]:
        """Every comment of an issue, page by page (the issue embeds only the first ones)."""
        out: list[Mapping[str, Any]] = []
        while len(out) < MAX_COMMENTS:
            page = self.http.json(
                "GET",
                self._issue_path(key, "comment"),
                params={"startAt": len(out), "maxResults": COMMENT_PAGE},
            )
            batch = page.get("comments") or []
            out.extend(batch)
            if not batch or len(out) >= int(page.get("total") or 0):
                break
        return out

    def create_issue(self, project: str, fields: IssueFields) -> IssueRef:
        payload: dict[str, Any] = {
            "fields": {"project": {"key": project}, **self.fields_payload(fields)}
        }
        if fields.parent is not None:  # issue 18: per flavour (jira_relations.py)
            payload["fields"].update(
                self.parent_fields(fields.parent, project=project, issue_type=fields.issue_type)
            )
        payload["fields"].update(self.create_extras(project, fields))
        if fields.properties:
            # Set atomically with the issue, so a crash right after create still leaves it
            # findable by its property (see find_issues_with_property).
            payload["properties"] = [{"key": k, "value": v} for k, v in fields.properties.items()]
        data = self.http.json("POST", f"{self.api}/issue", json=payload)
        key = str(data["key"])
        if fields.resolution:
            # no create screen carries it (Jira sets it on the way into a done status): the
            # issue's first transition sends it, as after an edit that could not
            self._pending_resolution[key] = fields.resolution
        return IssueRef(id=str(data.get("id") or ""), key=key, url=browse_url(self.base_url, key))

    def update_issue(self, key: str, fields: IssueFields) -> None:
        payload = self.fields_payload(fields)
        if fields.parent is not None:  # issue 18: per flavour (jira_relations.py)
            payload.update(self.parent_fields(fields.parent, key=key, issue_type=fields.issue_type))
        self._pending_resolution.pop(key, None)
        if fields.resolution is not None:
            payload = self._edit_resolution(key, payload, fields.resolution)
        if payload:
            self.http.json("PUT", self._issue_path(key), json={"fields": payload})
        for name, value in fields.properties.items():
            self.set_issue_property(key, name, value)

    def _edit_resolution(self, key: str, payload: dict[str, Any], name: str) -> dict[str, Any]:
        """Issue 18: set the resolution with the edit where the edit screen has it (an
        admin may put it there); the rest of ``payload`` still to write, else ``{}``.

        Jira's default screens carry the resolution on the transition into a done status
        only: Jira refuses the whole edit then (``resolution``: "cannot be set. It is not
        on the appropriate screen"), so the edit is made without it, and the next
        transition of this issue (the plan's status, written right after the fields)
        sends it on its screen instead of ``Done``. A transition out of a done status
        clears it anyway; a change of resolution within a done status waits for one."""
        with_it = {**payload, "resolution": {"name": name} if name else None}
        try:
            self.http.json("PUT", self._issue_path(key), json={"fields": with_it})
        except InvalidRequest as exc:
            if "resolution" not in exc.field_errors:
                raise
            if name:
                self._pending_resolution[key] = name
            return payload
        return {}

    def delete_issue(self, key: str) -> None:
        self.http.json("DELETE", self._issue_path(key))

    # comments ---------------------------------------------------------------------------

    def add_comment(
        self,
        key: str,
        body: Body,
        *,
        public: bool = True,
        visibility: CommentVisibility | None = None,
    ) -> Comment:
        """A comment; ``public=False`` restricts it to a role or group (``visibility``, by
        default the Administrators role), which every Jira honours, and also marks it with
        JSM's internal property, which only Service Management projects read."""
        payload: dict[str, Any] = {"body": self.own_body(body)}
        if not public:
            payload["visibility"] = (visibility or DEFAULT_PRIVATE_VISIBILITY).as_json()
            payload["properties"] = [
                {"key": INTERNAL_COMMENT_PROPERTY, "value": {"internal": True}}
            ]
        data = self.http.json("POST", self._issue_path(key, "comment"), json=payload)
        return parse_comment(data, self.body_format)

    def update_comment(self, key: str, comment_id: str, body: Body) -> Comment:
        data = self.http.json(
            "PUT", self._issue_path(key, "comment", comment_id), json={"body": self.own_body(body)}
        )
        return parse_comment(data, self.body_format)

    def delete_comment(self, key: str, comment_id: str) -> None:
        self.http.json("DELETE", self._issue_path(key, "comment", comment_id))

    # attachments ------------------------------------------------------------------------

    def upload_attachment(self, key: str, filename: str, data: bytes, mime_type: str) -> Attachment:
        if self.attachment_limit is not None and len(data) > self.attachment_limit:
            raise TooLarge(
                f"{filename} is {len(data)} bytes, over this tracker's limit of "
                f"{self.attachment_limit} bytes",
                limit=self.attachment_limit,
                status=None,
            )
        try:
            answer = self.http.json(
                "POST",
                self._issue_path(key, "attachments"),
                files={"file": (filename, data, mime_type or "application/octet-stream")},
                # Jira refuses multipart uploads without it (XSRF protection).
                headers={"X-Atlassian-Token": "no-check"},
            )
        except TooLarge as exc:
            if exc.limit is not None:
                raise
            raise TooLarge(exc.message, limit=self.upload_limit(), status=exc.status) from exc
        items = answer if isinstance(answer, list) else [answer]
        if not items or not isinstance(items[0], Mapping):
            raise TrackerError(f"Jira accepted {filename} but did not describe the attachment")
        return parse_attachment(items[0])

    def upload_limit(self) -> int | None:
        """The tracker's attachment size limit in bytes (``/attachment/meta``), if it says."""
        try:
            meta = self.http.json("GET", f"{self.api}/attachment/meta")
        except TrackerError:
            return None
        limit = meta.get("uploadLimit") if isinstance(meta, Mapping) else None
        return int(limit) if isinstance(limit, int | float) and limit > 0 else None

    def delete_attachment(self, attachment_id: str) -> None:
        self.http.json("DELETE", f"{self.api}/attachment/{quote(str(attachment_id), safe='')}")

    def _download(self, url: str) -> bytes:
        return self.http.request("GET", url, headers={"Accept": "*/*"}).content

    def _same_site(self, url: str) -> bool:
        """Whether an absolute URL Jira gave us points at this tracker (so auth may go there)."""
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    # issue properties -------------------------------------------------------------------

    def set_issue_property(self, key: str, name: str, value: Any) -> None:
        self.http.json("PUT", self._issue_path(key, "properties", name), json=value)

    def get_issue_property(self, key: str, name: str) -> Any | None:
        """The property's value, ``None`` when unset; ``NotFound`` when the issue is missing."""
        try:
            return self._read_property(key, name)
        except NotFound:
            # Jira answers 404 both for "no such property" and "no such issue": tell them apart.
            self.http.json("GET", self._issue_path(key), params={"fields": "key"})
            return None

    def put_remote_link(self, key: str, link: RemoteLink) -> None:
        remote: dict[str, Any] = {"url": link.url, "title": link.title}
        if link.summary:
            remote["summary"] = link.summary
        body: dict[str, Any] = {"globalId": link.global_id, "object": remote}
        if link.relationship:
            body["relationship"] = link.relationship
        if link.application:
            body["application"] = {"type": APPLICATION_TYPE, "name": link.application}
        self.http.json("POST", self._issue_path(key, "remotelink"), json=body)

    def delete_remote_link(self, key: str, global_id: str) -> bool:
        try:
            self.http.json(
                "DELETE", self._issue_path(key, "remotelink"), params={"globalId": global_id}
            )
        except NotFound:
            return False
        return True

    def remote_links(self, key: str) -> list[RemoteLink]:
        data = self.http.json("GET", self._issue_path(key, "remotelink"))
        links = []
        for item in data if isinstance(data, list) else []:
            remote = item.get("object") or {}
            links.append(
                RemoteLink(
                    global_id=str(item.get("globalId") or ""),
                    url=str(remote.get("url") or ""),
                    title=str(remote.get("title") or ""),
                    summary=str(remote.get("summary") or ""),
                    relationship=str(item.get("relationship") or ""),
                    application=str((item.get("application") or {}).get("name") or ""),
                )
            )
        return links

    def _read_property(self, key: str, name: str) -> Any | None:
        data = self.http.json("GET", self._issue_path(key, "properties", name))
        return data.get("value") if isinstance(data, Mapping) else None

    def find_issues_with_property(
        self, project: str, name: str, value: Any, *, created_within_hours: int = 24
    ) -> list[str]:
        """Keys of recent issues created by the integration user whose property equals ``value``.

        Works without an indexed property (which real Jira needs an app descriptor for):
        JQL narrows to this user's recent issues in the project, newest first, and the
        property of each is read, at most ``max_property_candidates`` of them.
        """
        hours = max(1, int(created_within_hours))
        jql = (
            f"project = {jql_quote(project)} AND reporter = currentUser() "
            f"AND created >= -{hours}h ORDER BY created DESC"
        )
        found: list[str] = []
        seen = 0
        cursor: str | None = None
        while seen < self.max_property_candidates:
            page = self.search(
                jql, cursor=cursor, limit=min(50, self.max_property_candidates - seen)
            )
            for ref in page.issues:
                seen += 1
                try:
                    current = self._read_property(ref.key, name)
                except NotFound:
                    continue  # no such property (or the issue vanished meanwhile)
                if current == value:
                    found.append(ref.key)
            cursor = page.next_cursor
            if not cursor or not page.issues:
                break
        return found

    # search -----------------------------------------------------------------------------

    def search(self, jql: str, *, cursor: str | None = None, limit: int = 50) -> SearchPage:
        raise NotImplementedError

    def check_jql(self, jql: str) -> None:
        """Raise ``InvalidRequest`` with Jira's message when ``jql`` is not a valid query."""
        self.search(jql, limit=1)

    def _page_refs(
        self, issues: list[Mapping[str, Any]]
    ) -> tuple[tuple[IssueRef, ...], dict[str, str]]:
        """Issue refs and their updated times from a page of search results."""
        refs: list[IssueRef] = []
        updated: dict[str, str] = {}
        for item in issues:
            key = str(item["key"])
            refs.append(
                IssueRef(id=str(item.get("id") or ""), key=key, url=browse_url(self.base_url, key))
            )
            when = (item.get("fields") or {}).get("updated")
            if when:
                updated[key] = str(when)
        return tuple(refs), updated
