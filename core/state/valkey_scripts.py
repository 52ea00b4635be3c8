"""Lua run inside Valkey, so that a check and its update are one atomic step for the fleet."""

from __future__ import annotations

#: GCRA (see core.state.rate.gcra), on the server's clock so daemons' clocks never matter.
#: KEYS[1]: the bucket. ARGV[1]: interval in ms; ARGV[2]: burst.
#: Returns "0" when admitted, else the milliseconds to wait (a string keeps the fraction).
GCRA = """
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local after = tat + interval
local admit_from = after - burst * interval
if now < admit_from then
  return string.format('%.3f', admit_from - now)
end
redis.call('SET', KEYS[1], string.format('%.3f', after), 'PX', math.ceil(after - now) + 1)
return '0'
"""

#: One of a fleet-wide number of places (a sorted set of tokens scored by expiry, server clock).
#: KEYS[1]: the places. ARGV[1]: how many; ARGV[2]: lease in ms; ARGV[3]: the token.
#: Returns 1 when the token holds a place, 0 when all are held. Places whose holder stopped
#: renewing them (a daemon that died) are swept first.
TAKE_PLACE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(lease) + 1000)
return 1
"""

#: Extends the lease of places still held. KEYS[1]: the places; ARGV[1]: lease in ms;
#: ARGV[2..]: the tokens (only those still present are extended).
RENEW_PLACES = """
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local lease = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], math.ceil(lease) + 1000)
return 1
"""
