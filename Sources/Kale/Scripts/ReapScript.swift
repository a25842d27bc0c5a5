import KaleRedis

extension Scripts {
    /// Returns tasks whose lease expired (their worker died or hung) to the front of their
    /// pending list. A lost run spends its attempt (and on the last one the task goes dead); a
    /// lost prefetch (leased, never started) spends none. A task with a cancel request ends
    /// cancelled: it must never start again.
    ///
    /// KEYS: 1 active set, 2-4 pending lists (high, normal, low), 5 notify list, 6 dead set
    /// ARGV: 1 now ms, 2 max tasks, 3 task-key prefix, 4 done-channel prefix, 5 observation (see ``Broker/observation(_:)``),
    ///       6 dead max size, 7 dead max age ms, 8 default result TTL ms
    /// Returns: {requeued count, dead count, cancelled count, ids of lost runs (started)}
    static let reap = RedisScript(name: "reap", source: LuaLibrary.source + #"""
    local C = {now = tonumber(ARGV[1]), tp = ARGV[3], chan = ARGV[4], obs = ARGV[5], dead = KEYS[6],
      deadMax = tonumber(ARGV[6]), deadAge = tonumber(ARGV[7]), ttl = tonumber(ARGV[8])}
    local pending = {KEYS[2], KEYS[3], KEYS[4]}
    local requeued, died, cancelled, runs = 0, 0, 0, {}
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', C.now, 'LIMIT', 0, tonumber(ARGV[2]))) do
      redis.call('ZREM', KEYS[1], id)
      local key = C.tp .. id
      local f = redis.call('HMGET', key, 'attempt', 'max_retries', 'prio', 'worker', 'lease', 'run', 'cancel', 'permit')
      local started = f[5] and f[5] == f[6]
      if f[8] then kale_permit_free(C, key, id, f[8]) end
      if redis.call('EXISTS', key) == 0 then
        -- The record vanished (deleted by hand); nothing is left to run.
      elseif f[7] then
        kale_cancelled(C, key, id, 'cancelled; its worker ' .. tostring(f[4]) .. ' was lost before it stopped')
        cancelled = cancelled + 1
      else
        if started then runs[#runs + 1] = id end
        local err = kale_error('worker_lost', 'LeaseExpired',
          'the lease of worker ' .. tostring(f[4]) .. ' expired on attempt ' .. tostring(f[1]), true)
        if started and (tonumber(f[1] or '0') or 0) > (tonumber(f[2] or '0') or 0) then
          kale_dead(C, key, id, err)
          died = died + 1
        else
          redis.call('HSET', key, 'state', 'pending')
          if started then redis.call('HSET', key, 'error', err) end
          kale_note(C, key, id, 'reaped', nil, 'LeaseExpired')
          redis.call('HDEL', key, 'worker', 'lease', 'run', 'progress')
          kale_push(pending, KEYS[5], f[3], id, true)
          requeued = requeued + 1
        end
      end
    end
    return {requeued, died, cancelled, runs}
    """#)
}
