"""The Lua scripts of the Redis contract and a caller that survives a Redis restart."""

from __future__ import annotations

import hashlib
from typing import Any

# One call writes the batch's events of one or more users (several users only on a single
# node: on a Cluster each user's keys share a slot, but two users' keys need not).
# KEYS: per user [stream, ids], then one owner key per session to remember.
# ARGV: maxlen, ttl, dedup_window, owner_ttl, user_count, owner_count,
#       then per user: event_count, channel, then 5 per event: event_id, event_type,
#       session_id, data, traceparent ("" when none); then one user id per owner key.
# Returns one string per event in order: the new entry id, or "" for a duplicate.
PUBLISH = """
local maxlen, ttl, window = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local owner_ttl, users, owners = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local out = {}
local a = 7
for u = 1, users do
  local stream, ids = KEYS[2 * u - 1], KEYS[2 * u]
  local count, channel = tonumber(ARGV[a]), ARGV[a + 1]
  a = a + 2
  local last = nil
  for _ = 1, count do
    local eid = ARGV[a]
    if redis.call('ZSCORE', ids, eid) then
      out[#out + 1] = ''
    else
      local id
      if ARGV[a + 4] == '' then
        id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
                        'e', ARGV[a + 1], 's', ARGV[a + 2], 'i', eid, 'd', ARGV[a + 3])
      else
        id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
                        'e', ARGV[a + 1], 's', ARGV[a + 2], 'i', eid, 'd', ARGV[a + 3],
                        'tp', ARGV[a + 4])
      end
      local ms, seq = string.match(id, '^(%d+)-(%d+)$')
      redis.call('ZADD', ids, tonumber(ms) * 1000 + math.min(tonumber(seq), 999), eid)
      out[#out + 1] = id
      last = id
    end
    a = a + 5
  end
  if last then
    redis.call('ZREMRANGEBYRANK', ids, 0, -(window + 1))
    redis.call('EXPIRE', stream, ttl)
    redis.call('EXPIRE', ids, ttl)
    redis.call('PUBLISH', channel, last)
  end
end
for o = 1, owners do
  local key = KEYS[2 * users + o]
  redis.call('SET', key, ARGV[a], 'NX', 'EX', owner_ttl)
  redis.call('EXPIRE', key, owner_ttl)
  a = a + 1
end
return out
"""


class Script:
    """A Lua script called by EVALSHA inside a pipeline (loaded again after NOSCRIPT)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def queue(self, pipe: Any, keys: list[str], args: list[Any]) -> None:
        pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)

    async def load(self, client: Any) -> None:
        await client.script_load(self.source)
