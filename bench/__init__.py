"""Benchmarks: each ``bench/<name>.py`` module has a ``main()``; ``python -m bench`` runs all."""
