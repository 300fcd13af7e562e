-- Appends a progress event to a task that has not finished. ARGS: id, event (JSON).
-- Returns its seq, or nil when the task is unknown or finished.
local id, data = arg(1), arg(2)
local values = redis.call('HMGET', tkey(id), 'status', 'evseq')
if not values[1] or terminal(values[1]) then return nil end
local seq = tonumber(values[2] or '0') + 1
local seq_s = num(seq)
redis.call('HSET', tkey(id), 'evseq', seq_s, 'e:' .. seq_s, data)
trim_events(id, seq)
redis.call('PUBLISH', evkey(id), event_entry(seq, data, false))
return seq
