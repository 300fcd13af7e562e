-- Counters for the autoscaler, never a scan: moves due retries to ready first so `delayed`
-- counts only tasks still waiting. Ready tasks by priority are counted in `ready` one
-- priority at a time (its score starts with the priority: a ZCOUNT per priority present),
-- and the oldest wait is the earliest runAt among the first WAIT_PEEK of each priority:
-- those run first, and a task back from a retry or a release keeps its place in line with a
-- later runAt, so the first alone could hide older tasks behind it.
-- Returns {depth (priority, count, … flat), delayed, oldest runAt|false, now, queued, running, dead}.
local WAIT_PEEK = 16
promote()
local depth, oldest = {}, nil
local from = '-inf'
while true do
  local head = redis.call('ZRANGEBYSCORE', K_READY, from, '+inf', 'WITHSCORES', 'LIMIT', '0', '1')
  if #head == 0 then break end
  local tier = math.floor(tonumber(head[2]) / PRIO_SPAN)
  local lo, hi = num(tier * PRIO_SPAN), '(' .. num((tier + 1) * PRIO_SPAN)
  depth[#depth + 1] = 1000 - tier
  depth[#depth + 1] = redis.call('ZCOUNT', K_READY, lo, hi)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_READY, lo, hi, 'LIMIT', '0', num(WAIT_PEEK))) do
    local run_at = tonumber(redis.call('HGET', tkey(id), 'runAt'))
    if run_at and (not oldest or run_at < oldest) then oldest = run_at end
  end
  from = num((tier + 1) * PRIO_SPAN)
end
local counts = redis.call('HMGET', K_COUNTS, 'queued', 'dead')
return {
  depth, redis.call('ZCARD', K_DELAYED), oldest and num(oldest) or false, NOW_S,
  tonumber(counts[1] or '0'), redis.call('ZCARD', K_LEASE), tonumber(counts[2] or '0'),
}
