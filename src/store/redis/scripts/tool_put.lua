-- Records a tool result, only from the owner of a pending claim. KEYS[1]: the task's tool
-- hash. ARGS: key, owner, result (JSON). Returns 1, or 0 with nothing written.
local key, owner = arg(1), arg(2)
local h = KEYS[1]
local fields = redis.call('HMGET', h, 'r:' .. key, 'o:' .. key)
if fields[1] or fields[2] ~= owner then return 0 end
redis.call('HSET', h, 'r:' .. key, arg(3))
return 1
