-- queued -> cancelled, running -> cancelling; other states stay. ARGS: tenant, id.
-- Returns the task as it is now, or nil when the tenant has no such task.
local t = load(arg(2))
if not t or t.tenant ~= arg(1) then return nil end
if t.status == 'queued' then
  to_cancelled(t, nil)
elseif t.status == 'running' then
  transition(t, { status = 'cancelling' })
end
return flat(t)
