"""Cold start: which large libraries a function loads before it needs them (issue 19).

Each case is a fresh interpreter that imports ``app`` and then what that function imports
lazily on its first invocation (``bench/coldstart.py``'s ``FIRST_INVOCATION``, the table
the cold-start benchmark times), and reports which of the large libraries are loaded. A
module-presence check, not a timing: the benchmark measures the time.

The libraries named here are loaded at their point of use: the OpenAPI document's parser
and validators (``yaml``, ``fastjsonschema``) on the first request that needs them, the
console's templates (``jinja2``) on a console page, the script sandbox (``RestrictedPython``)
when a script rule runs, and ``cryptography`` / PyJWT when a connection key is derived, a
console cookie sealed or a peer token signed or checked.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.coldstart import FIRST_INVOCATION
from infra.package import ROOT

LARGE = ("yaml", "fastjsonschema", "jinja2", "RestrictedPython", "cryptography", "jwt")


def loaded_after(modules: tuple[str, ...]) -> list[str]:
    """Which of ``LARGE`` a fresh process holds after importing ``app`` and ``modules``."""
    body = "; ".join(f"import {m}" for m in ("app", *modules))
    code = f"import sys; {body}; print(' '.join(m for m in {LARGE!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


@pytest.mark.parametrize("function", sorted(FIRST_INVOCATION))
def test_a_cold_start_loads_no_large_library_before_its_use(function):
    assert loaded_after(FIRST_INVOCATION[function]) == []


def test_the_check_sees_a_large_library_when_one_is_imported():
    """The probe itself works: importing the sandbox's library is seen."""
    assert "RestrictedPython" in loaded_after(("RestrictedPython",))
