"""Run the command line as ``python -m tierstream``."""

from tierstream.streams.cli.main import main

main()
