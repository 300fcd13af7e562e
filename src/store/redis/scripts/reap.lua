-- The reaper's pass: expired leases back to the queue, dead or cancelled (see lib.lua), in
-- batches until none is left. ARGS: none. Returns how many tasks changed.
local total = 0
repeat
  local n = reap()
  total = total + n
until n < BATCH
return total
