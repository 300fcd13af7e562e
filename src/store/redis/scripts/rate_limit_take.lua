-- GCRA on the store's clock; the same decisions as src/store/gcra.ts (the SQLite backend's),
-- which the caller validated the limit and count with. KEYS[1] is the bucket's own key (its
-- own slot). ARGS: ratePerSec, burst, count (requests taken one after another, as gcraBatch).
-- Returns {allowed 1|0, remaining, retryAfterMs, resetMs, taken}: the decision on the last
-- allowed request, or on the first refused one, and how many were allowed.
local EPSILON = 1e-6
local interval = 1000 / tonumber(arg(1))
local window = interval * tonumber(arg(2))
local count = tonumber(arg(3))
local stored = redis.call('GET', KEYS[1])
local tat = math.max(stored and tonumber(stored) or NOW, NOW)
local taken = 0
local result
while true do
  local new_tat = tat + interval
  local allow_at = new_tat - window
  if allow_at - NOW > EPSILON then
    result = { 0, 0, math.ceil(allow_at - NOW), math.ceil(tat - NOW), taken }
    break
  end
  tat = new_tat
  taken = taken + 1
  if taken == count then
    result = { 1, math.floor((NOW - allow_at) / interval + EPSILON), 0, math.ceil(new_tat - NOW), taken }
    break
  end
end
-- A full bucket is the same as none: the key goes once the TAT has passed (plus a minute, so
-- a caller's clock a little ahead of Redis' does not see its bucket vanish early).
if taken > 0 then redis.call('SET', KEYS[1], num(tat), 'PX', math.ceil(tat - NOW) + 60000) end
return result
