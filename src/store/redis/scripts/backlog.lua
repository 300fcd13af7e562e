-- The backlog per tenant, without scanning keys: the tenants that ever enqueued (a set kept
-- by enqueue.lua, bounded as the configured API keys are), each one's unfinished tasks and
-- its running count.
-- Returns {tenant, queued, running, …} flat, for tenants with any; index.ts sorts and cuts.
local out = {}
for _, tenant in ipairs(redis.call('SMEMBERS', K_TENANTS)) do
  local running = tonumber(redis.call('HGET', K_COUNTS, 'r:' .. tenant) or '0')
  local queued = redis.call('ZCARD', active_key(tenant)) - running
  if queued + running > 0 then
    out[#out + 1] = tenant
    out[#out + 1] = queued
    out[#out + 1] = running
  end
end
return out
