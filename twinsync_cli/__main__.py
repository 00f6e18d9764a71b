"""``python -m twinsync_cli``: the same as the ``twinsync`` console script."""

from twinsync_cli.main import main

main()
