-- Appends a progress event from the attempt holding the task. ARGS: id, fence, event (JSON).
-- Returns its seq, or nil when the task is unknown, finished or held under another fence.
local id, fence, data = arg(1), arg(2), arg(3)
local values = redis.call('HMGET', tkey(id), 'status', 'fence', 'evseq')
if values[2] ~= fence or not active(values[1]) then return nil end
local seq = tonumber(values[3] or '0') + 1
local seq_s = num(seq)
redis.call('HSET', tkey(id), 'evseq', seq_s, 'e:' .. seq_s, data)
trim_events(id, seq)
redis.call('PUBLISH', evkey(id), event_entry(seq_s, data, false))
return seq
