"""Operations on top of the sync pipeline: triggers, bulk jobs, connect, stop, deletion,
the audit log and the queue view.

The pipeline (``chalicelib.sync``) calls in through :mod:`chalicelib.ops.hooks` only, so a
change here never reaches into the stages' code. Pure parts (``jql``, ``pacing``,
``jobstate``) do no I/O and are unit-tested alone.
"""
