"""bench: what ``tierstream bench`` runs (see benchmarks/README.md)."""
