"""The cursor and the limit at the edge (no I/O): what passes, and the 400s."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chalicelib.api.paging import page_request, seal
from chalicelib.api.routing import ApiRequest
from chalicelib.errors import BadRequest
from chalicelib.store.pages import ID, KeyShape, list_page

ERRORS = "/api/v1/errors"
POSITION = {"pk": "err", "sk": "1764748800000-0123abcd"}


def request(
    query: dict[str, str] | None = None,
    *,
    path: str = ERRORS,
    params: dict[str, str] | None = None,
    token_hash: str = "ab" * 32,
    public_url: str | None = "https://a.twinsync.test",
) -> ApiRequest:
    settings = SimpleNamespace(admin_token_sha256=token_hash, public_url=public_url)
    return ApiRequest(
        method="GET",
        path=path,
        headers={},
        query=query or {},
        raw_body=b"",
        root=SimpleNamespace(settings=settings),  # type: ignore[arg-type]
        params=params or {},
    )


def refused(req: ApiRequest, name: str = "errors") -> str:
    with pytest.raises(BadRequest) as caught:
        page_request(req, name)
    assert caught.value.code == "invalid_field"
    return str(caught.value.field)


def test_a_sealed_cursor_opens_to_its_position():
    cursor = seal("errors", ERRORS, POSITION, request=request())
    wanted = page_request(request({"cursor": cursor, "limit": "7"}), "errors")
    assert (wanted.after, wanted.limit, wanted.explicit_limit) == (POSITION, 7, True)
    assert page_request(request(), "errors").limit == 100


@pytest.mark.parametrize("limit", ["0", "501", "x", "", " 5", "5 ", "+5", "1000000"])
def test_a_limit_outside_1_to_500_names_limit(limit):
    assert refused(request({"limit": limit})) == "limit"


def test_a_cursor_for_another_list_or_path_or_node_token_names_cursor():
    cursor = seal(
        "audit", "/api/v1/audit", {"pk": "audit", "sk": POSITION["sk"]}, request=request()
    )
    assert refused(request({"cursor": cursor})) == "cursor"  # another list
    twins = "/api/v1/connections/{cid}/twins"
    mine = seal("twins", "/api/v1/connections/c1/twins", POSITION, request=request())
    other = request({"cursor": mine}, path=twins, params={"cid": "c2"})
    assert refused(other, "twins") == "cursor"  # another connection's list
    token_changed = request(
        {"cursor": seal("errors", ERRORS, POSITION, request=request())}, token_hash="cd" * 32
    )
    assert refused(token_changed) == "cursor"


def test_a_signed_cursor_with_the_wrong_key_shape_is_refused_by_the_list():
    shape = KeyShape(fixed={"pk": "err"}, patterns={"sk": ID})
    assert shape.check(POSITION) == POSITION
    for wrong in (
        {"pk": "err"},
        {"pk": "err", "sk": POSITION["sk"], "x": "1"},
        {"pk": "audit", "sk": POSITION["sk"]},
        {"pk": "err", "sk": "not-an-id"},
        {"pk": "err", "sk": 5},
    ):
        with pytest.raises(BadRequest) as caught:
            shape.check(wrong)
        assert caught.value.field == "cursor"


def test_list_page_starts_strictly_after_the_position():
    ids = ["b", "a", "d", "c"]
    first = list_page(ids, position=lambda i: {"id": i}, order=lambda p: (p["id"],), limit=3)
    assert first.items == ["a", "b", "c"] and first.after == {"id": "c"}
    rest = list_page(
        [*ids, "bb"],
        position=lambda i: {"id": i},
        order=lambda p: (p["id"],),
        limit=3,
        after=first.after,
    )
    assert rest.items == ["d"] and rest.after is None
