-- Removes up to `batch` tasks finished before now - resultTtlMs (with their events, in
-- their hash, and indexes) and up to `batch` sessions idle past their TTL. ARGS: resultTtlMs, batch.
-- Returns {sessions removed, ids of removed tasks...} (their tool results live elsewhere).
-- Finished tasks are listed in the order they finished: the first one finished too recently
-- ends the pass.
local cutoff, batch = NOW - tonumber(arg(1)), tonumber(arg(2))
local ids = redis.call('LRANGE', K_FINISHED, '0', num(batch - 1))
local removed = {}
for _, id in ipairs(ids) do
  local t = load_core(id)
  if t and terminal(t.status) and tonumber(t.finishedAt) >= cutoff then break end
  if t and terminal(t.status) then
    redis.call('ZREM', tenant_key(t.tenant), id)
    if indexed(t.status) then redis.call('ZREM', status_key(t.status, t.tenant), id) end
    count(t.status, t, '-1')
    if t.idempotencyKey then
      local field = idem_field(t.tenant, t.idempotencyKey)
      if redis.call('HGET', K_IDEM, field) == id then redis.call('HDEL', K_IDEM, field) end
    end
    redis.call('DEL', tkey(id))
  end
  removed[#removed + 1] = id
end
if #removed > 0 then redis.call('LTRIM', K_FINISHED, num(#removed), '-1') end
local sessions = redis.call('ZRANGEBYSCORE', K_SESSEXP, '-inf', NOW_S, 'LIMIT', 0, batch)
for _, name in ipairs(sessions) do
  redis.call('DEL', B .. 's:' .. name, B .. 'm:' .. name)
  redis.call('ZREM', K_SESSEXP, name)
end
local out = { #sessions }
for _, id in ipairs(removed) do out[#out + 1] = id end
return out
