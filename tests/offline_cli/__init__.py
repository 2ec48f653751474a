"""Golden tests of the offline commands on a small generated sample.

The sample is ``tierstream sample --customers 300 --suppliers 40 --days 120 --seed 3``
(about 1,400 lines, with late, duplicated and invalid lines); every command runs
through click's CliRunner on ``streams.cli.main.main``, as a user would run it.
"""
