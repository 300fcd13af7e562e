-- The tool cache's claim. KEYS[1] is the task's tool hash (its own slot); per key it holds
-- o:<key> owner, l:<key> lease deadline and, once done, r:<key> the result.
-- ARGS: key, owner, leaseMs. Returns {'done', result} | {'claimed'} | {'pending', remainingMs}.
local key, owner, lease_ms = arg(1), arg(2), tonumber(arg(3))
local h = KEYS[1]
local fields = redis.call('HMGET', h, 'r:' .. key, 'o:' .. key, 'l:' .. key)
if fields[1] then return { 'done', fields[1] } end
if fields[2] and fields[2] ~= owner and tonumber(fields[3]) > NOW then
  return { 'pending', tonumber(fields[3]) - NOW }
end
redis.call('HSET', h, 'o:' .. key, owner, 'l:' .. key, num(NOW + lease_ms))
return { 'claimed' }
