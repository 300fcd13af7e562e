-- Removes a session. ARGS: tenant, sessionId. Returns 1 if it was live, else 0.
local name = pair(arg(1), arg(2))
local hash = B .. 's:' .. name
local expires = redis.call('HGET', hash, 'expiresAt')
redis.call('DEL', hash, B .. 'm:' .. name)
redis.call('ZREM', K_SESSEXP, name)
if expires and tonumber(expires) > NOW then return 1 end
return 0
