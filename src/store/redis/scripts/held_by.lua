-- The tasks a worker holds (running or cancelling), as id, fence pairs in one flat list. It
-- reads the worker of every leased task: it is for a worker that lost a claim's answer, not
-- for every turn of a loop. ARGS: worker.
local worker = arg(1)
local out = {}
for _, id in ipairs(redis.call('ZRANGE', K_LEASE, 0, -1)) do
  local v = redis.call('HMGET', tkey(id), 'worker', 'fence', 'status')
  if v[1] == worker and active(v[3]) then
    out[#out + 1] = id
    out[#out + 1] = v[2]
  end
end
return out
