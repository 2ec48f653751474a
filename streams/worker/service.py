"""The Faust worker that runs the app, without the terminal spinner's DEBUG root logger.

``faust.Worker`` always creates a terminal spinner (also with ``quiet=True``) and, to
spin it on every log record, sets the root logger to DEBUG with a DEBUG-level spinner
handler (``Worker._setup_spinner_handler``); the spinner stops after startup but the
level stays. Every ``log.debug`` in Faust and aiokafka then builds a ``LogRecord`` that
the spinner handler formats and checks ``isatty`` for -- Faust's table recovery logs two
per changelog record. Measured over a 200,000-entity changelog (cProfile): 400,000
records, 11.8 s of the 64 s it took to recover. Without the spinner, the root logger
keeps the worker's ``--loglevel`` from the start, in recovery and afterwards.
"""

from __future__ import annotations

import logging

import faust

__all__ = ["Worker"]


class Worker(faust.Worker):
    """``faust.Worker`` with no terminal spinner (so no DEBUG root logger)."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None  # what Faust itself does for a log level below WARN
        super().on_setup_root_logger(logger, level)
