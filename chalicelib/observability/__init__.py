"""What an operator sees of a node: structured JSON logs and CloudWatch metrics (EMF).

The bottom layer: every other layer may log and count through it; it imports nothing of
Twinsync. Powertools is imported when logging is configured or a metric is first flushed
(on a function's first invocation), never when ``app.py`` is imported: cold start.
"""
