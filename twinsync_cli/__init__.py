"""``twinsync``: the command line of Twinsync's admin API (not deployed; HTTP only)."""

__version__ = "0.1.0"
