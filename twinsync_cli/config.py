"""Profiles: which node the CLI talks to (its URL) and with which admin token.

A profile comes from the environment or from the config file; this module is the only
place the CLI reads either.

- ``--profile NAME`` (or ``TWINSYNC_PROFILE``): that profile of the config file.
- else ``TWINSYNC_URL`` with ``TWINSYNC_TOKEN``: the environment's node.
- else the config file's ``default_profile``, a profile named ``default``, or its only one.

The config file is ``$TWINSYNC_CONFIG``, else ``$XDG_CONFIG_HOME/twinsync/config.toml``,
else ``~/.config/twinsync/config.toml``::

    default_profile = "acme"

    [profiles.acme]
    url = "https://twinsync.acme.example"
    token = "…"

It is written with mode 0600 (its directory 0700) and replaced atomically. A token is
never printed: ``Profile.__repr__`` leaves it out.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from twinsync_cli.errors import ConfigError

ENV_PROFILE = "TWINSYNC_PROFILE"
ENV_URL = "TWINSYNC_URL"
ENV_TOKEN = "TWINSYNC_TOKEN"
ENV_CONFIG = "TWINSYNC_CONFIG"
ENV_DEBUG = "TWINSYNC_DEBUG"

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TOKEN_CHARS = re.compile(r"^[\x21-\x7e]{8,4096}$")  # visible ASCII, as a header value allows


@dataclass(frozen=True)
class Profile:
    """One node: its admin API's base URL and the admin token (never shown)."""

    name: str
    url: str
    token: str = field(repr=False)
    source: str = "config"  # "config" or "environment"


def debugging() -> bool:
    """``TWINSYNC_DEBUG=1``: show the traceback of an unexpected error (a bug)."""
    return os.environ.get(ENV_DEBUG, "") not in ("", "0")


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "twinsync" / "config.toml"


def check_name(name: str) -> str:
    if not PROFILE_NAME.match(name):
        raise ConfigError(
            f"Profile names are 1-64 letters, digits, '.', '_' or '-' (got {name!r})."
        )
    return name


def check_url(url: str) -> str:
    """The node's base URL, without a trailing slash; http(s) with a host, nothing else."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"The node URL must be http(s)://host[:port] (got {url!r}).")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError("The node URL must not carry a user, a query or a fragment.")
    return url.rstrip("/")


def check_token(token: str) -> str:
    """A usable admin token. The message never quotes it."""
    token = token.strip()
    if not TOKEN_CHARS.match(token):
        raise ConfigError(
            "The admin token must be 8-4096 visible ASCII characters without spaces "
            "(it is not shown here)."
        )
    return token


# --- the file ---------------------------------------------------------------------------


def read_config(path: Path) -> dict[str, Any]:
    """The config file's content; an absent file is an empty config."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror}.") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        # the parser's message quotes a position, never the file's content
        raise ConfigError(f"The config file {path} is not valid TOML: {exc}.") from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        raise ConfigError(f"The config file {path}: [profiles.NAME] tables expected.")
    _warn_if_shared(path)
    return data


def _warn_if_shared(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        print(
            f"warning: {path} holds admin tokens and others may read it; run: chmod 600 {path}",
            file=sys.stderr,
        )


def _toml_string(value: str) -> str:
    # JSON's string escapes are TOML basic-string escapes (no surrogates: ensure_ascii off)
    return json.dumps(value, ensure_ascii=False)


def render_config(data: Mapping[str, Any]) -> str:
    lines = ["# twinsync CLI profiles: admin tokens inside, keep this file private (0600)."]
    if data.get("default_profile"):
        lines.append(f"default_profile = {_toml_string(str(data['default_profile']))}")
    for name, profile in sorted(data.get("profiles", {}).items()):
        lines.append("")
        lines.append(f"[profiles.{check_name(name)}]")
        for key in ("url", "token"):
            if key in profile:
                lines.append(f"{key} = {_toml_string(str(profile[key]))}")
    return "\n".join(lines) + "\n"


def write_config(path: Path, data: Mapping[str, Any]) -> None:
    """Replace the config file atomically, readable by its owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(render_config(data))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)


def add_profile(path: Path, name: str, url: str, token: str, *, make_default: bool) -> None:
    data = dict(read_config(path))
    profiles = dict(data.get("profiles", {}))
    profiles[check_name(name)] = {"url": check_url(url), "token": check_token(token)}
    data["profiles"] = profiles
    if make_default or len(profiles) == 1:
        data["default_profile"] = name
    write_config(path, data)


def remove_profile(path: Path, name: str) -> None:
    data = dict(read_config(path))
    profiles = dict(data.get("profiles", {}))
    if name not in profiles:
        raise ConfigError(f"No profile {name!r} in {path}.")
    del profiles[name]
    data["profiles"] = profiles
    if data.get("default_profile") == name:
        data.pop("default_profile")
    write_config(path, data)


def set_default(path: Path, name: str) -> None:
    data = dict(read_config(path))
    if name not in data.get("profiles", {}):
        raise ConfigError(f"No profile {name!r} in {path}.")
    data["default_profile"] = name
    write_config(path, data)


# --- choosing one ------------------------------------------------------------------------


def resolve(name: str | None, environ: Mapping[str, str] | None = None) -> Profile:
    """The profile to use (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    path = config_path(env)
    if name:
        return _from_file(path, read_config(path), check_name(name))
    if env.get(ENV_URL):
        token = env.get(ENV_TOKEN)
        if not token:
            raise ConfigError(f"{ENV_URL} is set but {ENV_TOKEN} is not.")
        return Profile(
            "environment", check_url(env[ENV_URL]), check_token(token), source="environment"
        )
    data = read_config(path)
    profiles = data.get("profiles", {})
    chosen = data.get("default_profile")
    if not chosen and "default" in profiles:
        chosen = "default"
    if not chosen and len(profiles) == 1:
        chosen = next(iter(profiles))
    if not chosen:
        raise ConfigError(
            f"No node chosen: pass --profile NAME (profiles in {path}: "
            f"{', '.join(sorted(profiles)) or 'none'}), or set {ENV_URL} and {ENV_TOKEN}. "
            "Add a profile with: twinsync profile add NAME --url URL"
        )
    return _from_file(path, data, str(chosen))


def _from_file(path: Path, data: Mapping[str, Any], name: str) -> Profile:
    profiles = data.get("profiles", {})
    entry = profiles.get(name)
    if entry is None:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(f"No profile {name!r} in {path} (profiles: {known}).")
    url, token = entry.get("url"), entry.get("token")
    if not isinstance(url, str) or not isinstance(token, str):
        raise ConfigError(f"Profile {name!r} in {path} needs both url and token.")
    return Profile(name, check_url(url), check_token(token))


def list_profiles(environ: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Name, URL and whether it is the default, for each profile; never the token."""
    path = config_path(environ)
    data = read_config(path)
    default = data.get("default_profile")
    return [
        {
            "name": name,
            "url": entry.get("url"),
            "default": name == default,
            "token": "set" if entry.get("token") else "missing",
        }
        for name, entry in sorted(data.get("profiles", {}).items())
    ]
