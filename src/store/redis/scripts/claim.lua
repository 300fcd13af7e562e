-- Returns expired leases to the queue, moves due retries to ready, then hands out up to n
-- ready tasks (highest priority, then oldest) under a lease. ARGS: n, worker, leaseMs.
-- Returns the claimed tasks (lib.lua's claim_ready).
return claim_ready(arg(1), arg(2), tonumber(arg(3)))
