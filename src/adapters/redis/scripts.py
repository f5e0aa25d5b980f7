"""The Lua scripts of the Redis contract and a caller that survives a Redis restart."""

from __future__ import annotations

import hashlib
from typing import Any

# KEYS: stream, ids. ARGV: maxlen, ttl, dedup_window, channel, then 5 per event:
# event_id, event_type, session_id, data, traceparent ("" when none).
# Returns one string per event: the new entry id, or "" for a duplicate.
PUBLISH = """
local stream, ids = KEYS[1], KEYS[2]
local maxlen, ttl, window = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out, last = {}, nil
for i = 5, #ARGV, 5 do
  local eid = ARGV[i]
  if redis.call('ZSCORE', ids, eid) then
    out[#out + 1] = ''
  else
    local id
    if ARGV[i + 4] == '' then
      id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
                      'e', ARGV[i + 1], 's', ARGV[i + 2], 'i', eid, 'd', ARGV[i + 3])
    else
      id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
                      'e', ARGV[i + 1], 's', ARGV[i + 2], 'i', eid, 'd', ARGV[i + 3],
                      'tp', ARGV[i + 4])
    end
    local ms, seq = string.match(id, '^(%d+)-(%d+)$')
    redis.call('ZADD', ids, tonumber(ms) * 1000 + math.min(tonumber(seq), 999), eid)
    out[#out + 1] = id
    last = id
  end
end
if last then
  redis.call('ZREMRANGEBYRANK', ids, 0, -(window + 1))
  redis.call('EXPIRE', stream, ttl)
  redis.call('EXPIRE', ids, ttl)
  redis.call('PUBLISH', ARGV[4], last)
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
