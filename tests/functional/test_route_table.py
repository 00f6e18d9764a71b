"""The route table (``chalicelib/route_table.py``) is the view modules' declarations.

``app.py`` declares every route to Chalice from the table, so that a function imports a
route's view module only when the route is called (cold start, issue 19). A route added,
moved or changed in a view module without rewriting the table (``python -m
chalicelib.lazy_routes``) fails here, before it can go unrouted or point at a view that no
longer exists.
"""

from __future__ import annotations

import subprocess
import sys

from chalicelib.lazy_routes import render
from infra.package import ROOT

TABLE = ROOT / "chalicelib" / "route_table.py"


def test_the_table_is_what_the_view_modules_declare():
    code = (
        "from chalicelib.lazy_routes import declared_routes, render; "
        "import sys; sys.stdout.write(render(declared_routes()))"
    )
    written = subprocess.run(  # a fresh process: the view modules are imported anew
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert written == TABLE.read_text(), "run `python -m chalicelib.lazy_routes` and commit"


def test_every_route_of_the_table_finds_its_view():
    from chalicelib.lazy_routes import blueprints
    from chalicelib.route_table import ROUTES

    by_name = {bp.name: bp for bp in blueprints()}
    for route in ROUTES:
        for method in route.methods:
            handler = by_name[route.blueprint].handler_of(route.path, method)
            assert (handler.__module__, handler.__name__) == (route.module, route.name)


def test_the_table_renders_to_itself():
    from chalicelib.route_table import ROUTES

    assert render(ROUTES) == TABLE.read_text()
