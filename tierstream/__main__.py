"""Run the command line as ``python -m tierstream``."""

from tierstream.streams.cli import main

main()
