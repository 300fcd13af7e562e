-- One slice of the tasks a worker holds (running or cancelling): ZSCAN of the lease set from
-- `cursor`, so a long set blocks Redis a slice at a time (a task present throughout the scan is
-- seen at least once). ARGS: worker, cursor, count. Returns the next cursor ('0' at the end),
-- then id, fence pairs.
local worker = arg(1)
local page = redis.call('ZSCAN', K_LEASE, arg(2), 'COUNT', arg(3))
local out = { page[1] }
local members = page[2]
for i = 1, #members, 2 do
  local id = members[i]
  local v = redis.call('HMGET', tkey(id), 'worker', 'fence', 'status')
  if v[1] == worker and active(v[3]) then
    out[#out + 1] = id
    out[#out + 1] = v[2]
  end
end
return out
