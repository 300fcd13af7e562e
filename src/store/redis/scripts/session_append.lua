-- Appends messages to a session, creating it (or starting it over once expired). With a
-- writer, only the turn of this session that still holds its claim may append.
-- ARGS: tenant, sessionId, sessionTtlMs, writer task id|'', writer fence, messages (JSON)...
-- Returns {createdAt, updatedAt, expiresAt, messages} or 'STALE_FENCE'.
local tenant, sid, ttl, writer, fence = arg(1), arg(2), tonumber(arg(3)), arg(4), arg(5)
if writer ~= '' then
  local t = load_core(writer)
  if not t or t.fence ~= fence or t.tenant ~= tenant or t.sessionId ~= sid or not active(t.status) then
    return 'STALE_FENCE'
  end
end
local name = pair(tenant, sid)
local hash, list = B .. 's:' .. name, B .. 'm:' .. name
local expires = redis.call('HGET', hash, 'expiresAt')
if expires and tonumber(expires) <= NOW then redis.call('DEL', hash, list) end
redis.call('HSETNX', hash, 'createdAt', NOW_S)
redis.call('HSET', hash, 'updatedAt', NOW_S, 'expiresAt', num(NOW + ttl))
for i = 2 + 6, #ARGV do redis.call('RPUSH', list, ARGV[i]) end
redis.call('ZADD', K_SESSEXP, num(NOW + ttl), name)
local meta = redis.call('HMGET', hash, 'createdAt', 'updatedAt', 'expiresAt')
return { meta[1], meta[2], meta[3], redis.call('LRANGE', list, 0, -1) }
