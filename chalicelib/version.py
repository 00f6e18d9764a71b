"""The node's version: the one place it is written.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic] version``) and ``GET /api/v1/node``
shows it. The deployed app is packaged by Chalice, not installed as a distribution, so
``importlib.metadata`` could not find it there: this constant is what both read.
"""

__version__ = "0.1.0"
