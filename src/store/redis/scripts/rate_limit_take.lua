-- GCRA on the store's clock; the same decision as src/store/gcra.ts (the SQLite backend's),
-- which the caller validated the limit with. KEYS[1] is the bucket's own key (its own slot).
-- ARGS: ratePerSec, burst. Returns {allowed 1|0, remaining, retryAfterMs, resetMs}.
local EPSILON = 1e-6
local interval = 1000 / tonumber(arg(1))
local window = interval * tonumber(arg(2))
local stored = redis.call('GET', KEYS[1])
local tat = math.max(stored and tonumber(stored) or NOW, NOW)
local new_tat = tat + interval
local allow_at = new_tat - window
if allow_at - NOW > EPSILON then
  return { 0, 0, math.ceil(allow_at - NOW), math.ceil(tat - NOW) }
end
-- A full bucket is the same as none: the key goes once the TAT has passed (plus a minute, so
-- a caller's clock a little ahead of Redis' does not see its bucket vanish early).
redis.call('SET', KEYS[1], num(new_tat), 'PX', math.ceil(new_tat - NOW) + 60000)
return { 1, math.floor((NOW - allow_at) / interval + EPSILON), 0, math.ceil(new_tat - NOW) }
