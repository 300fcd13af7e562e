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
local t = {
  id = id, tenant = tenant, kind = kind, status = 'queued', priority = priority, input = arg(6),
  attempt = '0', maxAttempts = arg(7), timeoutMs = arg(8), createdAt = NOW_S, updatedAt = NOW_S,
  runAt = NOW_S, fence = '0', evseq = '0', qseq = num(redis.call('INCR', B .. 'qseq')),
}
if session ~= '' then t.sessionId = session end
if ikey ~= '' then
  t.idempotencyKey = ikey
  if hash ~= '' then t.requestHash = hash end
  redis.call('HSET', K_IDEM, idem_field(tenant, ikey), id)
end
-- Fields in the order later writes look for them (Redis searches a small hash front to back):
-- the ones every status change reads or rewrites first, the ones nothing rewrites last.
local fields = {
  'status', t.status, 'updatedAt', t.updatedAt, 'evseq', t.evseq, 'fence', t.fence, 'attempt', t.attempt,
  'tenant', tenant, 'priority', priority, 'maxAttempts', t.maxAttempts, 'runAt', t.runAt, 'qseq', t.qseq,
  'id', id, 'kind', kind, 'timeoutMs', t.timeoutMs, 'createdAt', t.createdAt,
}
if t.sessionId then fields[#fields + 1] = 'sessionId'; fields[#fields + 1] = t.sessionId end
if t.idempotencyKey then fields[#fields + 1] = 'idempotencyKey'; fields[#fields + 1] = t.idempotencyKey end
if t.requestHash then fields[#fields + 1] = 'requestHash'; fields[#fields + 1] = t.requestHash end
fields[#fields + 1] = 'input'
fields[#fields + 1] = t.input
redis.call('HSET', tkey(id), unpack(fields))
redis.call('ZADD', tenant_key(tenant), '0', id)
redis.call('SADD', K_TENANTS, tenant)
redis.call('ZADD', active_key(tenant), '0', id)
if session ~= '' then redis.call('RPUSH', turns_key(t), id) end
if is_head(t) then schedule(t) end
return { 1, t.createdAt }
