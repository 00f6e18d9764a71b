"""What every entry point needs before it does work: settings loaded, tables bound.

Called lazily (not at import) so that ``chalice package`` and the cold-start path import
``app.py`` without an environment, and so a misconfigured stage fails on its first
invocation with one message naming every problem (``ConfigError``).
"""

from __future__ import annotations

from functools import lru_cache

from chalicelib.config import Settings, get_settings


@lru_cache(maxsize=1)
def ready() -> Settings:
    from chalicelib.store.models import bind

    settings = get_settings()
    bind(settings)
    return settings


def reset() -> None:
    """Forget the cached settings (tests that change the environment call this)."""
    ready.cache_clear()
    get_settings.cache_clear()
