"""The admin console: server-rendered pages under ``/console`` that act only through the
admin API (:mod:`chalicelib.console.client`). At the API's level: nothing below imports it."""
