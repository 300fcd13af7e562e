-- The backlog per tenant, without scanning keys: the tenants that ever enqueued (a set kept
-- by enqueue.lua, bounded as the configured API keys are) and each one's status sets.
-- Returns {tenant, queued, running, …} flat, for tenants with any; index.ts sorts and cuts.
local out = {}
for _, tenant in ipairs(redis.call('SMEMBERS', K_TENANTS)) do
  local queued = redis.call('ZCARD', status_key('queued', tenant))
  local running = redis.call('ZCARD', status_key('running', tenant)) + redis.call('ZCARD', status_key('cancelling', tenant))
  if queued + running > 0 then
    out[#out + 1] = tenant
    out[#out + 1] = queued
    out[#out + 1] = running
  end
end
return out
