-- A live session. ARGS: tenant, sessionId. Returns {createdAt, updatedAt, expiresAt,
-- messages}, or nil when it does not exist or has expired.
local name = pair(arg(1), arg(2))
local hash = B .. 's:' .. name
local meta = redis.call('HMGET', hash, 'createdAt', 'updatedAt', 'expiresAt')
if not meta[3] or tonumber(meta[3]) <= NOW then return nil end
return { meta[1], meta[2], meta[3], redis.call('LRANGE', B .. 'm:' .. name, 0, -1) }
