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
