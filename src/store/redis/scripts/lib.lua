-- The shared part of every operation (src/store/redis/scripts.ts builds one Redis Function
-- library from it and the op files; each op file is the body of one function). This top
-- level runs once when the library loads, so its closures are not rebuilt per call (that
-- rebuilding, and the garbage it made, was most of a call's server time as an EVAL script).
-- Per call, begin() sets the state below: KEYS[1] is the queue's key base ("{prefix}:", one
-- hash slot: tasks, indexes, events and sessions of one queue live in it), or a rate bucket's
-- or tool hash's own key; ARGV[1] is the caller's clock for tests ('' = Redis' own TIME),
-- ARGV[2] the events kept per task; the op's arguments follow.
local KEYS, ARGV, B, NOW, NOW_S, EVENTS_MAX
local K_BASE, K_READY, K_DELAYED, K_LEASE, K_FINISHED, K_COUNTS, K_IDEM, K_SESSEXP, K_TENANTS, K_CANCELS, K_MARKER
local function arg(i) return ARGV[2 + i] end
-- The tenant whose running count a completion lowered without writing it yet
-- (complete_claim): a claim of that tenant's task in the same call cancels it out, two
-- HINCRBYs fewer per task on a busy slot; settle_running writes what is left.
local RUNNING_OWED
-- What begin parsed last time: the events bound and the second of TIME rarely change between
-- calls, and parsing text into a number is a libc strtod each.
local EVENTS_MAX_S, SEC_S, SEC_MS

local function begin(keys, argv)
  KEYS, ARGV, B = keys, argv, keys[1]
  RUNNING_OWED = nil
  if argv[1] ~= '' then
    NOW = tonumber(argv[1])
  else
    local t = redis.call('TIME')
    if t[1] ~= SEC_S then SEC_S, SEC_MS = t[1], tonumber(t[1]) * 1000 end
    NOW = SEC_MS + math.floor(tonumber(t[2]) / 1000)
  end
  if argv[2] ~= EVENTS_MAX_S then EVENTS_MAX_S, EVENTS_MAX = argv[2], tonumber(argv[2]) end
  -- NOW as text, made once per call (see num below; a test clock may give a fraction).
  NOW_S = string.format(NOW == math.floor(NOW) and '%d' or '%.17g', NOW)
  if B == K_BASE then return end
  -- The key names change only with the key (the queue's base) a call names.
  K_BASE = B
  K_READY, K_DELAYED = B .. 'ready', B .. 'delayed'
  -- Finished tasks in the order they finished (a list: cleanup takes them from its head);
  -- `ended`, not the sorted set `finished` of earlier versions.
  K_LEASE, K_FINISHED, K_COUNTS = B .. 'lease', B .. 'ended', B .. 'counts'
  K_IDEM, K_SESSEXP = B .. 'idem', B .. 'sessexp'
  -- Every tenant that enqueued, for the backlog per tenant (backlog.lua).
  K_TENANTS = B .. 'tenants'
  -- Channel of cancel notices: the id of every running task asked to cancel (index.ts listens).
  K_CANCELS = B .. 'cancels'
  K_MARKER = B .. 'wake'
end

-- Lua's tostring keeps 14 digits; scores and times need all of theirs. Integers (times in
-- ms, counters, scores) take the integer format: '%.17g' goes through libc's slow exact
-- float printing, which was a tenth of the server's time per task.
local function num(x)
  if x == math.floor(x) and x < 9007199254740992 and x > -9007199254740992 then return string.format('%d', x) end
  return string.format('%.17g', x)
end

-- A ready task's score: priority first (higher runs first), then arrival (qseq), in one
-- double: (1000 - priority) * 2^42 + qseq stays below 2^53 for priorities in -1000..1000.
local PRIO_SPAN = 4398046511104
local function ready_score(t) return num((1000 - tonumber(t.priority)) * PRIO_SPAN + tonumber(t.qseq)) end

local function tkey(id) return B .. 't:' .. id end
-- The channel a task's events are published on.
local function evkey(id) return B .. 'ev:' .. id end
local function tenant_key(tenant) return B .. 'ta:' .. tenant end
-- A tenant's unfinished tasks (queued, running, cancelling): what listing by one of those
-- statuses scans. Succeeded tasks are most of a tenant's `ta:` index and are listed by
-- scanning that; only the rare dead and cancelled ones keep an index of their own. (One set
-- per status cost two set writes on every transition, and a set created and removed each
-- time a tenant's last running task ended.)
local function active_key(tenant) return B .. 'tact:' .. tenant end
local function status_key(status, tenant) return B .. 'ts:' .. status .. ':' .. tenant end
local function indexed(status) return status == 'dead' or status == 'cancelled' end
-- Lengths first, so a ':' inside a tenant or id cannot make two names one.
local function pair(a, b) return #a .. ':' .. a .. ':' .. b end
local function turns_key(t) return B .. 'turns:' .. pair(t.tenant, t.sessionId) end
local function idem_field(tenant, key) return pair(tenant, key) end

-- A whole task: its hash without its events (e:<seq>, the only fields with ':' second), in
-- one pass over the hash (HGETALL walks Redis' compact encoding once, where HMGET searches it
-- per field). Cancels and repeated submits, which return the whole task, read it so (claims
-- read by name what they return: CLAIM_FIELDS).
local function load(id)
  local flat = redis.call('HGETALL', tkey(id))
  if #flat == 0 then return nil end
  local t = {}
  for i = 1, #flat, 2 do
    local k = flat[i]
    if string.byte(k, 2) ~= 58 then t[k] = flat[i + 1] end
  end
  return t
end

-- What changing a task's status reads of it (transition, end_attempt, schedule, turn_done, the
-- status event, cleanup), for writes that do not return the task: fewer fields to look up than
-- the whole task, and never its events.
local CORE = {
  'status', 'fence', 'tenant', 'priority', 'attempt', 'maxAttempts', 'startedAt', 'attempts', 'sessionId', 'evseq', 'qseq',
  'runAt', 'idempotencyKey', 'finishedAt',
}
local function load_core(id)
  local v = redis.call('HMGET', tkey(id), unpack(CORE))
  if not v[1] then return nil end
  return {
    id = id, status = v[1], fence = v[2], tenant = v[3], priority = v[4], attempt = v[5], maxAttempts = v[6],
    startedAt = v[7] or nil, attempts = v[8] or nil, sessionId = v[9] or nil, evseq = v[10] or nil, qseq = v[11] or nil,
    runAt = v[12], idempotencyKey = v[13] or nil, finishedAt = v[14] or nil,
  }
end

local function terminal(status) return status == 'succeeded' or status == 'dead' or status == 'cancelled' end
local function active(status) return status == 'running' or status == 'cancelling' end

-- Counters the stats, the queue limit and the backlog read instead of scanning, in one hash:
-- queued tasks (all of them: ready, delayed and turns waiting for their session), dead
-- tasks, and running (or cancelling) tasks by tenant. Running tasks in all are the size of
-- `lease`; queued ones by priority are counted in `ready` when asked (stats.lua), so a task
-- changes one counter, not a counter and a set per status.
-- delta: '1' or '-1' (text: a Lua number passed to Redis is printed through libc's float format).
local function count(status, t, delta)
  if status == 'queued' then
    redis.call('HINCRBY', K_COUNTS, 'queued', delta)
  elseif status == 'dead' then
    redis.call('HINCRBY', K_COUNTS, 'dead', delta)
  elseif status == 'running' or status == 'cancelling' then
    redis.call('HINCRBY', K_COUNTS, 'r:' .. t.tenant, delta)
  end
end

-- A task's events are fields of its hash: e:1, e:2, … hold the events, evseq the last seq (a
-- list or stream per task was one more key to create, expire and delete for every task; the
-- status events now go out in the transition's own HSET). The newest EVENTS_MAX are kept.
-- The entry read and published is {"s":seq,"f":final,"d":event}; the final one is the last
-- of a finished task.
local function event_entry(seq, data, final)
  return '{"s":' .. seq .. ',"f":' .. (final and 'true' or 'false') .. ',"d":' .. data .. '}'
end

-- Adds the next event of t to `set` (an HSET's field, value list) and returns its seq.
local function add_event(t, set, data)
  local seq = tonumber(t.evseq or '0') + 1
  t.evseq = num(seq)
  set[#set + 1] = 'evseq'
  set[#set + 1] = t.evseq
  set[#set + 1] = 'e:' .. t.evseq
  set[#set + 1] = data
  return seq
end

local function trim_events(id, seq)
  if seq > EVENTS_MAX then redis.call('HDEL', tkey(id), 'e:' .. (seq - EVENTS_MAX)) end
end

local function status_data(t, error_json)
  local s = '{"type":"status","status":"' .. t.status .. '","attempt":' .. t.attempt
  if t.status == 'succeeded' then s = s .. ',"result":' .. (t.result or 'null') end
  if error_json then s = s .. ',"error":' .. error_json end
  if t.status == 'queued' then s = s .. ',"runAt":' .. t.runAt end
  return s .. '}'
end

-- A queued task sits in `ready` (may run now) or `delayed` (runAt later), unless it belongs
-- to a session and an earlier task of that session is not finished: it then waits in the
-- session's list only (the tasks of one session run one at a time, in order).
local function is_head(t) return not t.sessionId or redis.call('LINDEX', turns_key(t), '0') == t.id end

-- A task made ready leaves one marker (never more) that wakes one node blocked in
-- waitForWork (BZPOPMIN), as BullMQ's marker does; a claim that leaves tasks ready sets it
-- again for the next idle node. One marker at most: an idle node is woken in vain at most
-- once. A sorted set with one member, so setting it is one idempotent ZADD (a list needed a
-- length check first); the key is `wake`, not the list `marker` of earlier versions.
local function wake()
  redis.call('ZADD', K_MARKER, '0', '0')
end

local function schedule(t)
  if tonumber(t.runAt) > NOW then
    redis.call('ZADD', K_DELAYED, t.runAt, t.id)
  else
    redis.call('ZADD', K_READY, ready_score(t), t.id)
    wake()
  end
end

local function unschedule(t)
  if redis.call('ZREM', K_READY, t.id) == 0 then redis.call('ZREM', K_DELAYED, t.id) end
end

-- Turns run one at a time, in order: when one ends, the next of its session may run.
local function turn_done(t)
  if not t.sessionId then return end
  local key = turns_key(t)
  local head = redis.call('LINDEX', key, '0')
  redis.call('LREM', key, '1', t.id)
  if head ~= t.id then return end
  local next_id = redis.call('LINDEX', key, '0')
  if next_id then
    local n = load_core(next_id)
    if n and n.status == 'queued' then schedule(n) end
  end
end

-- Every status change but the two every task takes (to_running, to_succeeded, written out):
-- fields (false deletes one), counters, indexes, queue placement and the status event.
local function transition(t, changes, error_json)
  local old = t.status
  local set, del = {}, {}
  changes.updatedAt = NOW_S
  for k, v in pairs(changes) do
    if v == false then
      t[k] = nil
      del[#del + 1] = k
    else
      t[k] = type(v) == 'number' and num(v) or v
      set[#set + 1] = k
      set[#set + 1] = t[k]
    end
  end
  local data = status_data(t, error_json)
  local seq = add_event(t, set, data)
  redis.call('HSET', tkey(t.id), unpack(set))
  if #del > 0 then redis.call('HDEL', tkey(t.id), unpack(del)) end
  trim_events(t.id, seq)
  if old ~= t.status then
    if terminal(t.status) then redis.call('ZREM', active_key(t.tenant), t.id) end
    if indexed(t.status) then redis.call('ZADD', status_key(t.status, t.tenant), '0', t.id) end
    -- running <-> cancelling keeps the tenant's running count
    if not (active(old) and active(t.status)) then
      count(old, t, '-1')
      count(t.status, t, '1')
    end
  end
  if old == 'queued' and t.status ~= 'queued' then unschedule(t) end
  if active(old) and not active(t.status) then redis.call('ZREM', K_LEASE, t.id) end
  if t.status == 'queued' and old ~= 'queued' and is_head(t) then schedule(t) end
  if terminal(t.status) then
    redis.call('RPUSH', K_FINISHED, t.id)
    turn_done(t)
  end
  -- Subscribers on every node follow the task's events through this notification.
  redis.call('PUBLISH', evkey(t.id), event_entry(seq, data, terminal(t.status)))
end

-- Attempts: the finished runs are the `attempts` field, each a JSON array [n, error, startedAt,
-- finishedAt], joined by commas (task.ts adds the brackets and names the parts, and the open
-- run from attempt and startedAt while it runs). Arrays, not objects: a run that succeeded
-- then stays under 64 bytes, so the task's hash keeps Redis' compact encoding (listpack).
-- Every change that ends a run closes it with the failure it records; a release on drain
-- gives the attempt back and adds nothing.
local function end_attempt(t, changes, error_json)
  if not active(t.status) then return end
  local entry = '[' .. t.attempt .. ',' .. (error_json or 'null') .. ',' .. t.startedAt .. ',' .. NOW_S .. ']'
  changes.attempts = t.attempts and (t.attempts .. ',' .. entry) or entry
end

-- What a claim reads of a task and returns, in this order (task.ts's CLAIM_FIELDS): fields by
-- name (HMGET), so neither events nor fields a claimed task does not show travel; the first
-- five are what to_running needs. The id is the claim's own; `error` and `attempts` are
-- read only after a run that counted (attempt above 0: a release gives its attempt back and
-- records nothing), since looking for a field a hash lacks walks the whole hash.
local CLAIM_FIELDS = {
  'status', 'fence', 'attempt', 'evseq', 'tenant', 'kind', 'sessionId', 'priority', 'input',
  'maxAttempts', 'timeoutMs', 'idempotencyKey', 'createdAt', 'runAt',
}
local N_CLAIM = #CLAIM_FIELDS
local NONE = { false, false }

-- queued -> running, written out rather than through transition (every task takes it): the
-- fields that change, the counters, the lease and the status event. v: CLAIM_FIELDS' values,
-- whose fence and attempt become the new ones.
local function to_running(id, key, v, worker, lease_until_s)
  local fence, attempt = num(tonumber(v[2]) + 1), num(tonumber(v[3]) + 1)
  local seq = tonumber(v[4] or '0') + 1
  local seq_s = num(seq)
  local data = '{"type":"status","status":"running","attempt":' .. attempt .. '}'
  redis.call('HSET', key, 'status', 'running', 'updatedAt', NOW_S, 'evseq', seq_s, 'fence', fence, 'attempt', attempt,
    'worker', worker, 'leaseUntil', lease_until_s, 'startedAt', NOW_S, 'e:' .. seq_s, data)
  v[2], v[3] = fence, attempt
  trim_events(id, seq)
  redis.call('HINCRBY', K_COUNTS, 'queued', '-1')
  if RUNNING_OWED == v[5] then RUNNING_OWED = nil else redis.call('HINCRBY', K_COUNTS, 'r:' .. v[5], '1') end
  redis.call('ZADD', K_LEASE, lease_until_s, id)
  redis.call('PUBLISH', evkey(id), event_entry(seq_s, data, false))
end

local function settle_running()
  if RUNNING_OWED then redis.call('HINCRBY', K_COUNTS, 'r:' .. RUNNING_OWED, '-1') end
  RUNNING_OWED = nil
end

-- Back to the queue; count_attempt false gives the attempt back (a release on drain).
local function to_queued(t, run_at, error_json, count_attempt)
  local changes = { status = 'queued', runAt = num(run_at), leaseUntil = false }
  if error_json then changes.error = error_json end
  if count_attempt then end_attempt(t, changes, error_json) else changes.attempt = tonumber(t.attempt) - 1 end
  transition(t, changes, error_json)
end

-- running (or cancelling) -> succeeded, written out as to_running is. `error` (of an earlier
-- attempt) and `leaseUntil` stay in the hash: a task read back shows neither once it has
-- succeeded (task.ts), and leaving them saves an HDEL on every task. t: held_for_end's.
-- owe_running: leave the running count to settle_running (complete_claim).
local function to_succeeded(t, result_json, owe_running)
  local id, key = t.id, t.key
  local entry = '[' .. t.attempt .. ',null,' .. t.startedAt .. ',' .. NOW_S .. ']'
  local seq = tonumber(t.evseq or '0') + 1
  local seq_s = num(seq)
  local data = '{"type":"status","status":"succeeded","attempt":' .. t.attempt .. ',"result":' .. result_json .. '}'
  redis.call('HSET', key, 'status', 'succeeded', 'updatedAt', NOW_S, 'evseq', seq_s, 'result', result_json,
    'finishedAt', NOW_S, 'attempts', t.attempts and (t.attempts .. ',' .. entry) or entry, 'e:' .. seq_s, data)
  trim_events(id, seq)
  redis.call('ZREM', active_key(t.tenant), id)
  if owe_running then RUNNING_OWED = t.tenant else redis.call('HINCRBY', K_COUNTS, 'r:' .. t.tenant, '-1') end
  redis.call('ZREM', K_LEASE, id)
  redis.call('RPUSH', K_FINISHED, id)
  turn_done(t)
  redis.call('PUBLISH', evkey(id), event_entry(seq_s, data, true))
end

local function to_dead(t, error_json)
  local changes = { status = 'dead', error = error_json, leaseUntil = false, finishedAt = NOW_S }
  end_attempt(t, changes, error_json)
  transition(t, changes, error_json)
end

local function to_cancelled(t, error_json)
  local changes = { status = 'cancelled', leaseUntil = false, finishedAt = NOW_S }
  if error_json then changes.error = error_json end
  end_attempt(t, changes, error_json)
  transition(t, changes, error_json)
end

local function flat(t)
  local out, n = {}, 0
  for k, v in pairs(t) do
    out[n + 1] = k
    out[n + 2] = v
    n = n + 2
  end
  return out
end

-- Expired leases (deadline before now): back to the queue with the attempt counted, dead
-- after the last attempt, cancelled when a cancel was asked for.
local BATCH, BATCH_S = 1000, '1000'
local function reap()
  local ids = redis.call('ZRANGEBYSCORE', K_LEASE, '-inf', '(' .. NOW_S, 'LIMIT', '0', BATCH_S)
  for _, id in ipairs(ids) do
    local t = load_core(id)
    if not t or not active(t.status) then
      redis.call('ZREM', K_LEASE, id)
    elseif t.status == 'cancelling' then
      to_cancelled(t, nil)
    else
      local err = '{"code":"LEASE_EXPIRED","message":"attempt ' .. t.attempt .. ' stopped renewing its lease"}'
      if tonumber(t.attempt) < tonumber(t.maxAttempts) then to_queued(t, NOW, err, true) else to_dead(t, err) end
    end
  end
  return #ids
end

-- Delayed tasks whose time has come move to `ready`.
local function promote()
  local ids = redis.call('ZRANGEBYSCORE', K_DELAYED, '-inf', NOW_S, 'LIMIT', '0', BATCH_S)
  for _, id in ipairs(ids) do
    redis.call('ZREM', K_DELAYED, id)
    local fields = redis.call('HMGET', tkey(id), 'priority', 'qseq')
    redis.call('ZADD', K_READY, ready_score({ priority = fields[1], qseq = fields[2] }), id)
    wake()
  end
end

-- The task if (id, fence) is still the current claim.
local function held(id, fence)
  local t = load_core(id)
  if not t or t.fence ~= fence or not active(t.status) then return nil end
  return t
end

-- held, reading only what to_succeeded needs (fewer fields to look for in the hash). The
-- first attempt has no finished runs to read (see CLAIM_FIELDS).
local function held_for_end(id, fence)
  local key = tkey(id)
  local v = redis.call('HMGET', key, 'status', 'fence', 'evseq', 'attempt', 'tenant', 'startedAt', 'sessionId')
  if v[2] ~= fence or not active(v[1]) then return nil end
  local attempts = nil
  if v[4] ~= '1' then attempts = redis.call('HGET', key, 'attempts') or nil end
  return {
    id = id, key = key, status = v[1], fence = v[2], evseq = v[3], attempt = v[4], tenant = v[5], startedAt = v[6],
    sessionId = v[7] or nil, attempts = attempts,
  }
end

-- Expired leases back first, due retries to ready, then up to n ready tasks (highest
-- priority, then oldest) to `worker` under a lease. n: text. Returns per claimed task the
-- values of CLAIM_FIELDS (fence and attempt the new ones), then its id, error, attempts and
-- the time of the claim.
local function claim_ready(n, worker, lease_ms)
  reap()
  promote()
  local popped = redis.call('ZPOPMIN', K_READY, n)
  local lease_until_s = num(NOW + lease_ms)
  local out = {}
  for i = 1, #popped, 2 do
    local id = popped[i]
    local key = tkey(id)
    local v = redis.call('HMGET', key, unpack(CLAIM_FIELDS))
    if v[1] == 'queued' then
      local earlier = v[3] ~= '0' and redis.call('HMGET', key, 'error', 'attempts') or NONE
      to_running(id, key, v, worker, lease_until_s)
      v[N_CLAIM + 1], v[N_CLAIM + 2], v[N_CLAIM + 3], v[N_CLAIM + 4] = id, earlier[1], earlier[2], NOW_S
      out[#out + 1] = v
    end
  end
  if redis.call('ZCARD', K_READY) > 0 then wake() end
  return out
end
