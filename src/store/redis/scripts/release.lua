-- Gives a held task back to the queue at once without spending its attempt (drain).
-- ARGS: id, fence. Returns 1, or 0 when the fence is stale.
local t = held(arg(1), arg(2))
if not t then return 0 end
if t.status == 'cancelling' then to_cancelled(t, nil) else to_queued(t, NOW, nil, false) end
return 1
