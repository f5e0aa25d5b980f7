"""Redis adapters: per-user streams, notifications, session owners (docs/redis-contract.md)."""
