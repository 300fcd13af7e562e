-- Events of a task after a seq, in order (lib.lua: fields e:<seq> of its hash, the newest
-- EVENTS_MAX kept). ARGS: task id, afterSeq, limit. Returns the entries
-- ({"s":seq,"f":final,"d":event} JSON).
local id, after, limit = arg(1), tonumber(arg(2)), tonumber(arg(3))
local values = redis.call('HMGET', tkey(id), 'status', 'evseq')
if not values[1] then return {} end
local last = tonumber(values[2] or '0')
local first = math.max(after + 1, last - EVENTS_MAX + 1, 1)
local stop = math.min(last, first + limit - 1)
local finished = terminal(values[1])
local out = {}
-- In chunks: Lua unpacks at most a few thousand values at once.
for from = first, stop, 1000 do
  local names = {}
  for seq = from, math.min(stop, from + 999) do names[#names + 1] = string.format('e:%d', seq) end
  local data = redis.call('HMGET', tkey(id), unpack(names))
  for i = 1, #names do
    local seq = from + i - 1
    if data[i] then out[#out + 1] = event_entry(seq, data[i], finished and seq == last) end
  end
end
return out
