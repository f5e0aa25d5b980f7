"""The bridge process's core: Kafka → filter → breaker → map → Redis, as a small package.

- `service`: the loop (retry the backlog when due, else feed the pipeline), rebalances,
  drain.
- `feed`: what is fetched when, so a write never waits for records that have not arrived.
- `pipeline`: the one way of every batch, prepare → send → write → book, at depth 2 while
  Redis looks healthy, at depth 1 in any doubt.
- `writes`: a batch's Redis publish and dead letters in flight together, failures as values.
- `bookkeeping`: pure; what one try at a batch came to: finished, kept, reported.
- `accounts`: what a booked write changes: offsets, counts, breaker, owner cache, backlog.
- `backlog`: records kept for a retry, bounded under every policy; a timer never starved.
- `commits`: the finished prefix committed in the background, one at a time, forced when
  caught up and on drain, and on revoke.
"""

from application.bridge.service import BridgeService

__all__ = ["BridgeService"]
