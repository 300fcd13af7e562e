-- Counters for the autoscaler, never a scan: moves due retries to ready first so `delayed`
-- counts only tasks still waiting. Returns {counters (flat), delayed, oldest runAt|false, now,
-- queued, running}.
promote(1000)
local oldest = redis.call('ZRANGE', K_WAITING, 0, 0, 'WITHSCORES')
return {
  redis.call('HGETALL', K_COUNTS), redis.call('ZCARD', K_DELAYED), oldest[2] or false, NOW_S,
  redis.call('ZCARD', K_WAITING), redis.call('ZCARD', K_LEASE),
}
