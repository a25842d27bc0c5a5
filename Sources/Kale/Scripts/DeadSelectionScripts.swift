import KaleRedis

extension Scripts {
    /// Deletes the named dead tasks with their records; an id no longer in the dead set (it was
    /// retried or trimmed since it was listed) is left alone, record and all.
    ///
    /// KEYS: 1 dead set
    /// ARGV: 1 task-key prefix, 2… ids (a few hundred at most per call)
    /// Returns: the number deleted
    static let deadPurgeIDs = RedisScript(name: "dead-purge-ids", source: LuaLibrary.source + #"""
    local n = 0
    for i = 2, #ARGV do
      local id = ARGV[i]
      if redis.call('ZREM', KEYS[1], id) == 1 then
        kale_release_unique(ARGV[1] .. id, id)
        redis.call('DEL', ARGV[1] .. id)
        n = n + 1
      end
    end
    return n
    """#)

    /// Sends a `failed` task (trimmed from the dead set by its caps, record kept for the result
    /// TTL) back to its queue for a fresh set of attempts, as ``deadRetry`` does for dead ones.
    ///
    /// KEYS: 1 task record, 2-4 pending lists (high, normal, low), 5 notify list
    /// ARGV: 1 id, 2 now ms (its new `ready_at`)
    /// Returns: 1 requeued, else the task's state (`missing` without a record)
    static let failedRetry = RedisScript(name: "failed-retry", source: LuaLibrary.source + #"""
    local state = redis.call('HGET', KEYS[1], 'state')
    if state ~= 'failed' then return state or 'missing' end
    redis.call('HSET', KEYS[1], 'state', 'pending', 'attempt', 0, 'ready_at', ARGV[2])
    redis.call('HDEL', KEYS[1], 'worker', 'started_at', 'finished_at', 'result')
    redis.call('PERSIST', KEYS[1])
    kale_push({KEYS[2], KEYS[3], KEYS[4]}, KEYS[5], redis.call('HGET', KEYS[1], 'prio'), ARGV[1], false)
    return 1
    """#)
}
