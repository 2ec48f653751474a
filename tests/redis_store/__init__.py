"""The Redis tier store (``AsyncTierStore``, run with asyncio) against a real Redis (the session's embedded Valkey).

Every test uses its own key prefix and deletes its keys afterwards, so tests can
run in parallel with each other and with anything else using that Redis.
"""
