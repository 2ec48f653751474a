"""The synchronous client (streams.client, streams.kafka.config, streams.kafka.read, streams.cli.client).

Integration tests run against the session's embedded broker (``broker`` in
conftest.py); each test uses its own topic prefix and app id. Synchronisation
is by offsets and polling with deadlines, never by sleeping.
"""
