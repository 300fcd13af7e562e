-- A held task failed. ARGS: id, fence, error (JSON), retryable '1'|'0', retryDelayMs.
-- Returns 'retrying', 'dead', 'cancelled' or 'stale'.
local t = held(arg(1), arg(2))
if not t then return 'stale' end
local err = arg(3)
if t.status == 'cancelling' then
  to_cancelled(t, err)
  return 'cancelled'
end
if arg(4) == '1' and tonumber(t.attempt) < tonumber(t.maxAttempts) then
  to_queued(t, NOW + math.max(0, tonumber(arg(5))), err, true)
  return 'retrying'
end
to_dead(t, err)
return 'dead'
