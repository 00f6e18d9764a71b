"""Twinsync: wiring only. Routes, queue handlers and schedules hand over to chalicelib."""

from chalice import Chalice

from chalicelib.api.admin import admin_api
from chalicelib.api.node import node_api
from chalicelib.api.routing import contract_errors

app = Chalice(app_name="twinsync")
app.register_middleware(contract_errors, "http")
app.register_blueprint(admin_api)
app.register_blueprint(node_api)
