-- Events of a task after a seq, in order. ARGS: task id, afterSeq, limit. Returns the
-- entries ({"s":seq,"f":final,"d":event} JSON). Entry i holds seq first + i, where first is
-- the seq of the oldest entry kept (1 unless the list was trimmed).
local key = evkey(arg(1))
local after, limit = tonumber(arg(2)), tonumber(arg(3))
local head = redis.call('LINDEX', key, 0)
if not head then return {} end
local first = tonumber(string.match(head, '^{"s":(%d+)'))
local start = math.max(0, after + 1 - first)
return redis.call('LRANGE', key, start, start + limit - 1)
