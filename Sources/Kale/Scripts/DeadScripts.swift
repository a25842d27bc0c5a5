import KaleRedis

extension Scripts {
    /// Sends a dead task back to its queue for a fresh set of attempts (dead -> pending).
    ///
    /// `ready_at` becomes now: the task's wait (history, metrics, oldest-pending age) starts
    /// again here, not at its enqueue days ago.
    /// KEYS: 1 dead set, 2 task record, 3-5 pending lists (high, normal, low), 6 notify list
    /// ARGV: 1 id, 2 now ms
    /// Returns: 1 requeued, 0 not in the dead set
    static let deadRetry = RedisScript(name: "dead-retry", source: LuaLibrary.source + #"""
    if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
    redis.call('ZREM', KEYS[1], ARGV[1])
    -- An id without a record (deleted by hand) leaves the set: there is nothing to retry.
    if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
    redis.call('HSET', KEYS[2], 'state', 'pending', 'attempt', 0, 'ready_at', ARGV[2])
    redis.call('HDEL', KEYS[2], 'worker', 'started_at', 'finished_at', 'result')
    redis.call('PERSIST', KEYS[2])
    kale_push({KEYS[3], KEYS[4], KEYS[5]}, KEYS[6], redis.call('HGET', KEYS[2], 'prio'), ARGV[1], false)
    return 1
    """#)

    /// Deletes up to N dead tasks with their records (call until it returns 0).
    ///
    /// A unique key still naming a purged task is freed with it. Going dead frees it already,
    /// so this matters only for records put in the dead set by hand.
    /// KEYS: 1 dead set
    /// ARGV: 1 max tasks, 2 task-key prefix
    /// Returns: the number deleted
    static let deadPurge = RedisScript(name: "dead-purge", source: LuaLibrary.source + #"""
    local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
    for _, id in ipairs(ids) do
      kale_release_unique(ARGV[2] .. id, id)
      redis.call('DEL', ARGV[2] .. id)
      redis.call('ZREM', KEYS[1], id)
    end
    return #ids
    """#)

    /// Deletes up to N waiting tasks (pending and scheduled) of a queue with their records;
    /// running tasks are left alone. Call until it returns 0.
    ///
    /// A unique key still naming a purged task is freed with it: it would otherwise make
    /// enqueues with that key create nothing until its TTL ran out.
    /// KEYS: 1-3 pending lists, 4 scheduled set, 5 notify list
    /// ARGV: 1 max tasks, 2 task-key prefix
    /// Returns: the number deleted
    static let purgeQueue = RedisScript(name: "purge-queue", source: LuaLibrary.source + #"""
    local n = 0
    local limit = tonumber(ARGV[1])
    local function purge(id)
      kale_release_unique(ARGV[2] .. id, id)
      redis.call('DEL', ARGV[2] .. id)
      n = n + 1
    end
    for i = 1, 3 do
      while n < limit do
        local id = redis.call('RPOP', KEYS[i])
        if not id then break end
        purge(id)
      end
    end
    if n < limit then
      for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, limit - n - 1)) do
        redis.call('ZREM', KEYS[4], id)
        purge(id)
      end
    end
    if n == 0 then redis.call('DEL', KEYS[5]) end
    return n
    """#)
}
