"""``python -m rollgate``: the CLI."""

from rollgate.cli.main import main

main()
