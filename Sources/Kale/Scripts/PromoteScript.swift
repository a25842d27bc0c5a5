import KaleRedis

extension Scripts {
    /// Moves due delayed and retrying tasks to their pending list (scheduled -> pending), and
    /// ends those whose expiry passed while they waited (-> expired). Atomic, so many
    /// workers can run it at once and each task is promoted exactly once.
    ///
    /// KEYS: 1 scheduled set, 2-4 pending lists (high, normal, low), 5 notify list
    /// ARGV: 1 now ms, 2 max tasks, 3 task-key prefix, 4 done-channel prefix, 5 observation (see ``Broker/observation(_:)``),
    ///       6 default result TTL ms
    /// Returns: {promoted count, due time ms of the next scheduled task or -1}
    static let promote = RedisScript(name: "promote", source: LuaLibrary.source + #"""
    local C = {now = tonumber(ARGV[1]), tp = ARGV[3], chan = ARGV[4], obs = ARGV[5], ttl = tonumber(ARGV[6])}
    local pending = {KEYS[2], KEYS[3], KEYS[4]}
    local moved = 0
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', C.now, 'LIMIT', 0, tonumber(ARGV[2]))) do
      redis.call('ZREM', KEYS[1], id)
      local key = C.tp .. id
      local f = redis.call('HMGET', key, 'prio', 'expires_at')
      if redis.call('EXISTS', key) == 0 then
        -- Deleted by hand while it waited.
      elseif (tonumber(f[2] or '0') or 0) > 0 and tonumber(f[2]) <= C.now then
        kale_finish(C, key, id, 'expired')
      else
        -- ready_at: where the wait of a delayed task starts (its enqueue is long before).
        redis.call('HSET', key, 'state', 'pending', 'ready_at', C.now)
        kale_push(pending, KEYS[5], f[1], id, false)
        moved = moved + 1
      end
    end
    local nextDue = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    if #nextDue == 0 then return {moved, -1} end
    return {moved, tonumber(nextDue[2])}
    """#)
}
