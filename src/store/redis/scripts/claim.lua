-- Returns expired leases to the queue, moves due retries to ready, then hands out up to n
-- ready tasks (highest priority, then oldest) under a lease. ARGS: n, worker, leaseMs.
-- Returns the claimed tasks.
reap(1000)
promote(1000)
local n, worker, lease_ms = tonumber(arg(1)), arg(2), tonumber(arg(3))
local popped = redis.call('ZPOPMIN', K_READY, n)
local out = {}
for i = 1, #popped, 2 do
  local t = load(popped[i])
  if t and t.status == 'queued' then
    to_running(t, worker, NOW + lease_ms)
    out[#out + 1] = flat(t)
  end
end
if redis.call('ZCARD', K_READY) > 0 then wake() end
return out
