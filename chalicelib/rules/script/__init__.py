"""Script mode: sync rules written by the admin in restricted Python, run in a sandbox.

Layout (each module has one job):

- ``defaults``  the scripts a Script end starts with (they equal Basic mode)
- ``policy``    compiling: RestrictedPython plus the statements sync scripts never need
- ``guards``    the run-time walls: curated builtins, guarded attribute/item access
- ``sandbox``   one run over plain-JSON inputs (inside the sandbox process)
- ``child``     the sandbox process: kernel limits, then one run
- ``runner``    where runs happen: a child process locally, a Lambda function in AWS
- ``rules``     Script mode as sync rules (requests out, checked results back)
- ``edits``     saving scripts: compile on save, version history
- ``testrun``   the test-run endpoint's logic (runs, writes nothing)

Importing this package is cheap (RestrictedPython loads only where scripts compile).
"""

from chalicelib.rules.script.defaults import DEFAULT_INCOMING, DEFAULT_OUTGOING

__all__ = ["DEFAULT_INCOMING", "DEFAULT_OUTGOING"]
