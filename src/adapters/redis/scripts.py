"""The Lua scripts of the Redis contract and a caller that survives a Redis restart."""

from __future__ import annotations

import hashlib
from typing import Any

from domain.gateway.notices import NOTICE_MAX_BYTES, NOTICE_MAX_ENTRIES

# The notification part of PUBLISH (docs/redis-contract.md, "The notification"): `noted` keeps
# each entry the user's loop appends; `notify` then sends one SPUBLISH on the user's channel:
#   "E <previous> <last> <n>" + n x " <id> <type len> <session len> <data len>" + "\n" + the
#   n types, sessions and datas, concatenated in that order (entries carried), or
#   "I <previous> <last> <n>" (ids only: more than NOTIFY_MAX_ENTRIES entries or maxlen, or more
#   than NOTIFY_MAX_BYTES of them),
# `previous` being the entry held just before the first new one, "0-0" when none is. A user
# that no gateway subscribes (`PUBSUB SHARDNUMSUB` of its channel is 0) costs no notification.
NOTIFY = (
    f"""
local NOTIFY_MAX_ENTRIES, NOTIFY_MAX_BYTES = {NOTICE_MAX_ENTRIES}, {NOTICE_MAX_BYTES}
"""
    + """
local notes = {}
local function noted(id, etype, sid, data)
  notes[#notes + 1] = id
  notes[#notes + 1] = etype
  notes[#notes + 1] = sid
  notes[#notes + 1] = data
end
local function notify(channel, stream, last)
  if redis.call('PUBSUB', 'SHARDNUMSUB', channel)[2] == 0 then
    notes = {}  -- no gateway follows this user (here, on the slot's master): nothing to build
    return
  end
  local before = redis.call('XREVRANGE', stream, '(' .. notes[1], '-', 'COUNT', 1)
  local previous = before[1] and before[1][1] or '0-0'
  local n = #notes / 4
  local head, body, bytes = {'E', previous, last, n}, {}, 0
  for i = 1, #notes, 4 do
    local etype, sid, data = notes[i + 1], notes[i + 2], notes[i + 3]
    head[#head + 1] = notes[i] .. ' ' .. #etype .. ' ' .. #sid .. ' ' .. #data
    body[#body + 1] = etype .. sid .. data
    bytes = bytes + #notes[i] + #etype + #sid + #data + 16
  end
  if n > NOTIFY_MAX_ENTRIES or n > tonumber(maxlen) or bytes > NOTIFY_MAX_BYTES then
    redis.call('SPUBLISH', channel, 'I ' .. previous .. ' ' .. last .. ' ' .. n)
  else
    redis.call('SPUBLISH', channel, table.concat(head, ' ') .. '\\n' .. table.concat(body))
  end
  notes = {}
end
"""
)

# One call writes the batch's events of one or more users (several users only on a single
# node: on a Cluster each user's keys share a slot, but two users' keys need not).
# KEYS: per user [stream, ids], then one owner key per session to remember.
# ARGV: maxlen, ttl, dedup_window, owner_ttl, user_count, owner_count,
#       then per user: event_count, channel, then one argument per event (`pack_event`):
#       "<n1>:<n2>:<n3>:<n4>:" + event_id + event_type + session_id + traceparent + data, the
#       n's being the byte lengths of the first four ("" traceparent when none);
#       then one user id per owner key.
# Returns one string per event in order: the new entry id, or "" for a duplicate; then one per
# owner key: the owner it held before (SET NX GET: first owner wins), "" when this call set it.
# A string starting with "!" is a refusal of that user's keys or that owner key (one holds
# another type): the rest of the batch is written all the same, never aborted by one user.
# One argument per event rather than five: the client packs a fifth of the arguments.
PUBLISH = (
    """
local maxlen, ttl, window = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local owner_ttl, users, owners = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local out = {}
"""
    + NOTIFY
    + """
local a = 7
local REFUSED = '!WRONGTYPE a key of this user holds another type'
local function holds_other(key, kind)
  local t = redis.call('TYPE', key)['ok']
  return t ~= 'none' and t ~= kind
end
-- The error of a pcall's reply, or nil (a reply that is a value: a score, false, an id).
local function failed(reply)
  return type(reply) == 'table' and reply['err'] or nil
end
for u = 1, users do
  local stream, ids = KEYS[2 * u - 1], KEYS[2 * u]
  local count, channel = tonumber(ARGV[a]), ARGV[a + 1]
  a = a + 2
  -- A key of another type is met by the first call on it, before anything of this user is
  -- written (each event reads ids first; XADD is the first write, to stream): then all the
  -- user's events are refused. Any other error fails the call, as redis.call would.
  local first, last, refused = #out + 1, nil, false
  for n = 1, count do
    local ev = ARGV[a + n - 1]
    local n1, n2, n3, n4, p = string.match(ev, '^(%d+):(%d+):(%d+):(%d+):()')
    local e2 = p + tonumber(n1)
    local e3 = e2 + tonumber(n2)
    local e4 = e3 + tonumber(n3)
    local e5 = e4 + tonumber(n4)
    local eid = string.sub(ev, p, e2 - 1)
    local reply = redis.pcall('ZSCORE', ids, eid)
    if reply and not failed(reply) then
      out[#out + 1] = ''
    elseif not reply then
      local etype, sid = string.sub(ev, e2, e3 - 1), string.sub(ev, e3, e4 - 1)
      local data = string.sub(ev, e5)
      if e5 == e4 then
        reply = redis.pcall('XADD', stream, 'MAXLEN', '~', maxlen, '*',
                            'e', etype, 's', sid, 'i', eid, 'd', data)
      else
        reply = redis.pcall('XADD', stream, 'MAXLEN', '~', maxlen, '*',
                            'e', etype, 's', sid, 'i', eid, 'd', data,
                            'tp', string.sub(ev, e4, e5 - 1))
      end
      if not failed(reply) then
        local id = reply
        local ms, seq = string.match(id, '^(%d+)-(%d+)$')
        redis.call('ZADD', ids, tonumber(ms) * 1000 + math.min(tonumber(seq), 999), eid)
        out[#out + 1] = id
        last = id
        noted(id, etype, sid, data)
      end
    end
    local err = failed(reply)
    if err then
      if string.sub(err, 1, 9) ~= 'WRONGTYPE' then
        return reply
      end
      refused = true
      break
    end
  end
  -- Only duplicates: the stream was not touched, so it is asked (rare: a redelivery).
  if not refused and not last and holds_other(stream, 'stream') then
    refused = true
  end
  if refused then
    for i = first, first + count - 1 do
      out[i] = REFUSED
    end
  end
  a = a + count
  if last then
    redis.call('ZREMRANGEBYRANK', ids, 0, -(window + 1))
    redis.call('EXPIRE', stream, ttl)
    redis.call('EXPIRE', ids, ttl)
    notify(channel, stream, last)
  end
end
for o = 1, owners do
  local key = KEYS[2 * users + o]
  local before = redis.pcall('SET', key, ARGV[a], 'NX', 'GET', 'EX', owner_ttl)
  if type(before) == 'table' and before['err'] then
    out[#out + 1] = '!' .. before['err']
  else
    redis.call('EXPIRE', key, owner_ttl)
    out[#out + 1] = before or ''
  end
  a = a + 1
end
return out
"""
)


def pack_event(
    event_id: str, event_type: str, session_id: str, traceparent: str, data: bytes
) -> bytes:
    """One event as the publish script's single argument for it (the layout is above)."""
    eid, etype, sid, tp = (
        event_id.encode(),
        event_type.encode(),
        session_id.encode(),
        traceparent.encode(),
    )
    # A join of the pieces: a quarter cheaper than one %-format of all nine (one per event).
    head = b"%d:%d:%d:%d:" % (len(eid), len(etype), len(sid), len(tp))
    return b"".join((head, eid, etype, sid, tp, data))


class Script:
    """A Lua script called by EVALSHA inside a pipeline (loaded again after NOSCRIPT)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def queue(self, pipe: Any, keys: list[str], args: list[Any]) -> None:
        pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)

    async def load(self, client: Any) -> None:
        await client.script_load(self.source)
