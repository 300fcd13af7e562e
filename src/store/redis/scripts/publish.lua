-- Appends a progress event to a task that has not finished. ARGS: id, event (JSON).
-- Returns its seq, or nil when the task is unknown or finished.
local status = redis.call('HGET', tkey(arg(1)), 'status')
if not status or terminal(status) then return nil end
return append_event(arg(1), arg(2), false)
