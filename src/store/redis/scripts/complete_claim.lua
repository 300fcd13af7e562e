-- complete, then claim for the slot it freed, in one call (what BullMQ's moveToFinished does
-- with its next job): a busy slot makes one round trip per task instead of two.
-- ARGS: id, fence, result (JSON), n, worker, leaseMs. Returns {1|0 completed, claimed tasks}.
local t = held_for_end(arg(1), arg(2))
local completed = 0
if t then
  to_succeeded(t, arg(3), true)
  completed = 1
end
local claimed = {}
if arg(4) ~= '0' then claimed = claim_ready(arg(4), arg(5), tonumber(arg(6))) end
settle_running()
return { completed, claimed }
