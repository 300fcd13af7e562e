-- Adds a task, or returns the tenant's task with the same idempotency key (unless both
-- carry a request hash and they differ).
-- ARGS: id, tenant, kind, sessionId|'', priority, input (JSON), maxAttempts, timeoutMs,
-- idempotencyKey|'', queueLimit, requestHash|''. Returns {1, created at} for a new task (the
-- caller has the rest of it; sending the whole hash back cost more than writing it), {0, task}
-- for the existing one with the key,
-- {-1, queued} when full, or {-2, existing id} when the key was used for another request.
local id, tenant, kind, session, priority = arg(1), arg(2), arg(3), arg(4), arg(5)
local ikey, limit, hash = arg(9), tonumber(arg(10)), arg(11)
if ikey ~= '' then
  local existing = redis.call('HGET', K_IDEM, idem_field(tenant, ikey))
  if existing then
    local t = load(existing)
    if t then
      if hash ~= '' and t.requestHash and t.requestHash ~= hash then return { -2, t.id } end
      return { 0, flat(t) }
    end
  end
end
-- Counted first, given back when over the limit: one call in the common case.
local queued = redis.call('HINCRBY', K_COUNTS, 'queued', '1')
if queued > limit then
  redis.call('HINCRBY', K_COUNTS, 'queued', '-1')
  return { -1, queued - 1 }
end
local qseq = redis.call('INCR', B .. 'qseq')
local qseq_s, key = num(qseq), tkey(id)
-- Fields in the order later writes look for them (Redis searches a small hash front to back):
-- the ones every status change reads or rewrites first, the ones nothing rewrites last.
if session == '' and ikey == '' then
  -- Most tasks: written out, without a table of fields to build.
  redis.call('HSET', key, 'status', 'queued', 'updatedAt', NOW_S, 'evseq', '0', 'fence', '0', 'attempt', '0',
    'tenant', tenant, 'priority', priority, 'maxAttempts', arg(7), 'runAt', NOW_S, 'qseq', qseq_s,
    'id', id, 'kind', kind, 'timeoutMs', arg(8), 'createdAt', NOW_S, 'input', arg(6))
else
  local fields = {
    'status', 'queued', 'updatedAt', NOW_S, 'evseq', '0', 'fence', '0', 'attempt', '0',
    'tenant', tenant, 'priority', priority, 'maxAttempts', arg(7), 'runAt', NOW_S, 'qseq', qseq_s,
    'id', id, 'kind', kind, 'timeoutMs', arg(8), 'createdAt', NOW_S,
  }
  if session ~= '' then fields[#fields + 1] = 'sessionId'; fields[#fields + 1] = session end
  if ikey ~= '' then
    fields[#fields + 1] = 'idempotencyKey'
    fields[#fields + 1] = ikey
    if hash ~= '' then fields[#fields + 1] = 'requestHash'; fields[#fields + 1] = hash end
    redis.call('HSET', K_IDEM, idem_field(tenant, ikey), id)
  end
  fields[#fields + 1] = 'input'
  fields[#fields + 1] = arg(6)
  redis.call('HSET', key, unpack(fields))
end
redis.call('ZADD', tenant_key(tenant), '0', id)
redis.call('SADD', K_TENANTS, tenant)
redis.call('ZADD', active_key(tenant), '0', id)
-- A turn waits in its session's list unless it is the first there (lib.lua's is_head).
if session ~= '' and redis.call('RPUSH', turns_key({ tenant = tenant, sessionId = session }), id) > 1 then return { 1, NOW_S } end
-- runAt is now: ready at once (lib.lua's schedule).
redis.call('ZADD', K_READY, num((1000 - tonumber(priority)) * PRIO_SPAN + qseq), id)
wake()
return { 1, NOW_S }
