import KaleRedis

extension Scripts {
    /// Gives a leased task back at once (warm or cold shutdown): started -> pending, at the
    /// front of its list. The attempt is not counted: the task did not fail.
    ///
    /// KEYS: 1 task record, 2 active set, 3-5 pending lists (high, normal, low), 6 notify list
    /// ARGV: 1 id, 2 worker id, 3 attempt
    /// Returns: 1 requeued, 0 lease lost
    static let requeue = RedisScript(name: "requeue", source: LuaLibrary.source + #"""
    local key, id = KEYS[1], ARGV[1]
    if not kale_holds(KEYS[2], key, id, ARGV[2], ARGV[3]) then return 0 end
    redis.call('ZREM', KEYS[2], id)
    redis.call('HSET', key, 'state', 'pending', 'attempt', tonumber(ARGV[3]) - 1)
    redis.call('HDEL', key, 'worker', 'started_at', 'progress')
    kale_push({KEYS[3], KEYS[4], KEYS[5]}, KEYS[6], redis.call('HGET', key, 'prio'), id, true)
    return 1
    """#)
}
