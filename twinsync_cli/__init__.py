"""``twinsync``: the command line of Twinsync's admin API (not deployed; HTTP only)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("twinsync")  # the installed package's: chalicelib/version.py's
except PackageNotFoundError:  # run from a checkout without installing
    __version__ = "0+unknown"
