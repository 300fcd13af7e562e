-- queued -> cancelled, running -> cancelling (with a notice on K_CANCELS); other states
-- stay. ARGS: tenant, id.
-- Returns the task as it is now, or nil when the tenant has no such task.
local t = load(arg(2))
if not t or t.tenant ~= arg(1) then return nil end
if t.status == 'queued' then
  to_cancelled(t, nil)
elseif t.status == 'running' then
  transition(t, { status = 'cancelling' })
  -- The worker hears it now instead of at its next renew (renew stays the authority).
  redis.call('PUBLISH', K_CANCELS, t.id)
end
return flat(t)
