"""Admin operations and jobs: making and managing connections, triggers, bulk jobs, drift
scans, the queue view (docs/architecture.md).

Operations call down into the sync protocol (``chalicelib.sync``), never the other way.
Pure parts (``jobstate``, ``drift``) do no I/O and are unit-tested alone.
"""
