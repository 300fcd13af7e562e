-- Records the result of a held task (a result after a cancel request still wins).
-- ARGS: id, fence, result (JSON). Returns 1, or 0 when the fence is stale.
local t = held_for_end(arg(1), arg(2))
if not t then return 0 end
to_succeeded(t, arg(3))
return 1
