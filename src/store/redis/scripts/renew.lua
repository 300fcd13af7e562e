-- Extends a held lease to now + leaseMs. ARGS: id, fence, leaseMs. Returns 'renewed',
-- 'cancelling' or 'lost'.
local t = held(arg(1), arg(2))
if not t then return 'lost' end
local until_ms = num(NOW + tonumber(arg(3)))
redis.call('HSET', tkey(t.id), 'leaseUntil', until_ms, 'updatedAt', NOW_S)
redis.call('ZADD', K_LEASE, until_ms, t.id)
if t.status == 'cancelling' then return 'cancelling' end
return 'renewed'
