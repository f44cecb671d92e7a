"""The Lua scripts of the Redis limiter (`mwsync.send.redis_limiter`), run atomically inside Redis.

Times are Redis's own clock (`TIME`, microseconds), never a runner's. Numbers written back to Redis go
through `string.format('%.0f', ...)`: Lua's `tostring` would write 1.79612e+15 and lose the microseconds.

Keys of one budget (all with one hash tag, so a Redis Cluster keeps them in one slot, as scripts need)::

    KEYS[1] queue     sorted set: waiting tickets, scored by ticket number (arrival order)
    KEYS[2] alive     hash: ticket -> microseconds until which its waiter counts as alive (it polls)
    KEYS[3] seq       counter of slots granted
    KEYS[4] window    sorted set: the last `limit` slots granted, scored by slot number
    KEYS[5] done      hash: slot -> microseconds it completed (absent: in flight)
    KEYS[6] deadline  hash: slot -> microseconds after which an in-flight slot counts as completed (its
                      runner may have died: it must not block the budget forever)
    KEYS[7] pause     string with a TTL: set by a 429, no slot is granted while it exists
    KEYS[8] margin    string: the margin in microseconds, doubled by each 429 (up to 10 % of the window)
"""

from __future__ import annotations

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
_INT = "local function int(v) return string.format('%.0f', v) end\n"

#: ARGV: ticket, limit, window_us, margin_us, inflight_us, waiter_us, idle_ms.
#: Returns {1, slot} when granted, {0, wait_us} to wait that long, {0, -1} not this ticket's turn yet,
#: {0, -2} the slot `limit` places back is still in flight (poll).
ACQUIRE = _NOW + _INT + """
local ticket, limit = ARGV[1], tonumber(ARGV[2])
redis.call('HSET', KEYS[2], ticket, int(now + tonumber(ARGV[6])))
redis.call('ZADD', KEYS[1], 'NX', ticket, ticket)
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
while head ~= ticket do
  if tonumber(redis.call('HGET', KEYS[2], head) or '0') >= now then return {0, -1} end
  redis.call('ZREM', KEYS[1], head)
  redis.call('HDEL', KEYS[2], head)
  head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
end
local paused = redis.call('PTTL', KEYS[7])
if paused > 0 then return {0, paused * 1000} end
local margin = math.max(tonumber(ARGV[4]), tonumber(redis.call('GET', KEYS[8]) or '0'))
local count = redis.call('ZCARD', KEYS[4])
if count >= limit then
  local back = redis.call('ZRANGE', KEYS[4], count - limit, count - limit)[1]
  local ended = tonumber(redis.call('HGET', KEYS[5], back) or '-1')
  if ended < 0 then
    ended = tonumber(redis.call('HGET', KEYS[6], back) or '0')
    if now < ended then return {0, -2} end
  end
  local at = ended + tonumber(ARGV[3]) + margin
  if now < at then return {0, at - now} end
end
local slot = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[4], slot, slot)
redis.call('HSET', KEYS[6], slot, int(now + tonumber(ARGV[5])))
redis.call('ZREM', KEYS[1], ticket)
redis.call('HDEL', KEYS[2], ticket)
local extra = redis.call('ZCARD', KEYS[4]) - limit
if extra > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[4], 0, extra - 1)) do
    redis.call('HDEL', KEYS[5], old)
    redis.call('HDEL', KEYS[6], old)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, extra - 1)
end
for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[7]) end
return {1, slot}
"""

#: KEYS: window, done. ARGV: slot. The request completed: its window runs from now (if still counted).
DONE = _NOW + _INT + """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then redis.call('HSET', KEYS[2], ARGV[1], int(now)) end
return 1
"""

#: KEYS: window, done, deadline. ARGV: slot. The request will not go out: give the slot back.
CANCEL = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"""

#: KEYS: pause, margin. ARGV: delay_ms, margin_us (the configured one), margin_cap_us, idle_ms.
#: A 429: no slot for delay_ms (the longest pause asked wins); the margin doubles, up to the cap.
PAUSE = _INT + """
local ms = tonumber(ARGV[1])
if ms > 0 and redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], '1', 'PX', int(ms)) end
local margin = math.max(tonumber(ARGV[2]), tonumber(redis.call('GET', KEYS[2]) or '0'))
redis.call('SET', KEYS[2], int(math.min(tonumber(ARGV[3]), math.max(2 * margin, 10000))), 'PX', ARGV[4])
return 1
"""

#: KEYS: queue, alive. ARGV: ticket. A waiter leaves the queue (its run is stopping).
LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""
