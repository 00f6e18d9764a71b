"""Every console screen, registered on one blueprint (``app.py`` registers it).

Importing a screen module registers its routes; add a new screen's module here.
"""

from chalicelib.console import (  # noqa: F401  (imported for their routes)
    connection_views,
    job_views,
    node_views,
    people_views,
    rules_views,
    settings_views,
    signin_views,
    wizard_views,
)
from chalicelib.console.common import console_api

__all__ = ["console_api"]
