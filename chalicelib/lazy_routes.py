"""HTTP routes declared to Chalice without importing their views (cold start, issue 19).

Chalice must know every route when ``app`` is imported (``chalice package`` makes the API
from ``app.routes``), but only ``api_handler`` serves routes, and a request needs the views
of one module. So the blueprints ``app.py`` registers are :class:`LazyBlueprint`\\ s, built
from :data:`chalicelib.route_table.ROUTES` (path, methods, content types, view name and the
module that declares it): each route's handler imports its module on the route's first
call and hands over to the handler that module's ``json_route`` / ``html_route`` made.
Chalice's own behaviour (middleware, ``current_request``, content types, CORS, 405 and
415) is unchanged: it sees the same routes, with the same names, on the same blueprints.

The declarations stay beside their views; the table is their copy, written by
``python -m chalicelib.lazy_routes`` and checked against them by
``tests/functional/test_route_table.py``. A view module whose route the table lacks (or
declares otherwise) fails on import with :class:`StaleRouteTable`.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
from chalice import Blueprint

Handler = Callable[..., Any]


class StaleRouteTable(Exception):
    """A view module declares a route that ``route_table.ROUTES`` does not list as such."""


class Route(msgspec.Struct, frozen=True):
    """One route as Chalice must know it at import, and where its view is declared (a
    Struct, built in C: the table's 90-odd routes are built by every function's init;
    issue 19, cold start)."""

    blueprint: str  # the blueprint's import name
    module: str  # the module whose import declares the route's handler
    name: str  # the handler's name: Chalice's view name
    path: str
    methods: tuple[str, ...]
    content_types: tuple[str, ...] | None = None  # None: Chalice's default (JSON)

    def route_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"methods": list(self.methods)}
        if self.content_types is not None:
            kwargs["content_types"] = list(self.content_types)
        return kwargs


class LazyBlueprint(Blueprint):
    """A blueprint whose routes come from the table and whose views load on first call.

    ``route()`` (what ``json_route`` and ``html_route`` call when a view module is
    imported) keeps the real handler and what it declares (:attr:`seen`), instead of
    registering the route a second time.
    """

    def __init__(self, import_name: str, routes: Iterable[Route]) -> None:
        super().__init__(import_name)
        self.name = import_name
        self.seen: list[Route] = []
        self._declared: dict[tuple[str, str], Route] = {}
        self._handlers: dict[tuple[str, str], Handler] = {}
        for route in routes:
            for method in route.methods:
                self._declared[(route.path, method)] = route
            super().route(route.path, **route.route_kwargs())(self._lazy(route))

    def route(self, path: str, **kwargs: Any) -> Callable[[Handler], Handler]:
        types = kwargs.get("content_types")

        def keep(handler: Handler) -> Handler:
            found = Route(
                self.name,
                handler.__module__,
                handler.__name__,
                path,
                tuple(kwargs.get("methods", ["GET"])),
                None if types is None else tuple(types),
            )
            self.seen.append(found)
            for method in found.methods:
                if self._declared.get((path, method)) == found:
                    self._handlers[(path, method)] = handler
            return handler

        return keep

    def handler_of(self, path: str, method: str) -> Handler:
        """The real handler of ``method path``, importing its module the first time."""
        handler = self._handlers.get((path, method))
        if handler is None:
            declared = self._declared[(path, method)]
            importlib.import_module(declared.module)
            handler = self._handlers.get((path, method))
            if handler is None:
                raise StaleRouteTable(
                    f"{declared.module} does not declare {method} {path} as the route table "
                    "has it: run `python -m chalicelib.lazy_routes`"
                )
        return handler

    def _lazy(self, route: Route) -> Handler:
        def handler(**params: str) -> Any:
            return self.handler_of(route.path, self.current_request.method)(**params)

        handler.__name__ = route.name
        handler.__qualname__ = route.name
        handler.__module__ = route.module
        return handler


_BLUEPRINTS: dict[str, LazyBlueprint] = {}


def blueprint(import_name: str) -> LazyBlueprint:
    """The one blueprint of ``import_name``, with its routes from the table."""
    found = _BLUEPRINTS.get(import_name)
    if found is None:
        from chalicelib.route_table import ROUTES

        found = LazyBlueprint(import_name, [r for r in ROUTES if r.blueprint == import_name])
        _BLUEPRINTS[import_name] = found
    return found


def blueprints() -> list[LazyBlueprint]:
    """Every blueprint of the table, in the table's order (what ``app.py`` registers)."""
    from chalicelib.route_table import ROUTES

    return [blueprint(name) for name in dict.fromkeys(r.blueprint for r in ROUTES)]


# --- writing the table ----------------------------------------------------------------------

# The modules whose import declares routes, in the order app.py registered them before.
VIEW_MODULES = (
    "chalicelib.api.admin",
    "chalicelib.api.node",
    "chalicelib.api.connections",
    "chalicelib.api.node_connections",
    "chalicelib.api.sync",
    "chalicelib.api.node_sync",
    "chalicelib.api.node_pull",
    "chalicelib.api.webhooks",
    "chalicelib.api.ops",
    "chalicelib.api.rules",
    "chalicelib.api.drift",
    "chalicelib.console.signin_views",
    "chalicelib.console.wizard_views",
    "chalicelib.console.connection_views",
    "chalicelib.console.settings_views",
    "chalicelib.console.rules_views",
    "chalicelib.console.people_views",
    "chalicelib.console.job_views",
    "chalicelib.console.node_views",
)


def declared_routes() -> list[Route]:
    """Every route the view modules declare, in their order: what the table must hold."""
    for module in VIEW_MODULES:
        importlib.import_module(module)
    return [route for bp in _BLUEPRINTS.values() for route in bp.seen]


def render(routes: Iterable[Route]) -> str:
    """The text of ``route_table.py``: one line a route (left as written by the formatter)."""

    def text(value: Any) -> str:
        if isinstance(value, tuple):
            return "(" + ", ".join(text(v) for v in value) + ("," if len(value) == 1 else "") + ")"
        return json.dumps(value)

    lines = [
        '"""Every HTTP route, as :mod:`chalicelib.lazy_routes` registers it: written by',
        "``python -m chalicelib.lazy_routes`` from the view modules' declarations, checked by",
        "``tests/functional/test_route_table.py``. Do not edit.",
        '"""',
        "",
        "# ruff: noqa: E501",
        "from chalicelib.lazy_routes import Route",
        "",
        "# fmt: off",
        "ROUTES: tuple[Route, ...] = (",
    ]
    for r in routes:
        fields = [r.blueprint, r.module, r.name, r.path, r.methods]
        if r.content_types is not None:
            fields.append(r.content_types)
        lines.append(f"    Route({', '.join(text(f) for f in fields)}),")
    lines += [")", "# fmt: on"]
    return "\n".join(lines) + "\n"


def write() -> None:
    """Write ``route_table.py`` from the view modules (in a fresh process)."""
    from pathlib import Path

    target = Path(__file__).with_name("route_table.py")
    target.write_text(render(declared_routes()))
    print(f"wrote {target}")


if __name__ == "__main__":  # run as __main__, the view modules import this module anew
    importlib.import_module("chalicelib.lazy_routes").write()
