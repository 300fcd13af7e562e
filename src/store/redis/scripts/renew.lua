-- Extends a held lease to now + leaseMs. ARGS: id, fence, leaseMs. Returns 'renewed',
-- 'cancelling' or 'lost'.
local id, fence = arg(1), arg(2)
local v = redis.call('HMGET', tkey(id), 'status', 'fence')
if v[2] ~= fence or not active(v[1]) then return 'lost' end
local until_ms = num(NOW + tonumber(arg(3)))
redis.call('HSET', tkey(id), 'leaseUntil', until_ms, 'updatedAt', NOW_S)
redis.call('ZADD', K_LEASE, until_ms, id)
if v[1] == 'cancelling' then return 'cancelling' end
return 'renewed'
