import KaleRedis

extension Scripts {
    /// Gives a leased task back at once (shutdown, or a runner that could not take it):
    /// started -> pending, at the front of its list. The attempt is not counted: the task did
    /// not fail. A task with a cancel request ends cancelled instead: it must never start again.
    ///
    /// KEYS: 1 task record, 2 active set, 3-5 pending lists (high, normal, low), 6 notify list
    /// ARGV: 1 id, 2 worker id, 3 lease token, 4 attempts spent before this lease, 5 now ms,
    ///       6 done-channel prefix, 7 observation (see ``Broker/observation(_:)``), 8 default result TTL ms
    /// Returns: 1 requeued, 0 lease lost, 3 cancelled
    static let requeue = RedisScript(name: "requeue", source: LuaLibrary.source + #"""
    local C = {now = tonumber(ARGV[5]), chan = ARGV[6], obs = ARGV[7], ttl = tonumber(ARGV[8])}
    local key, id = KEYS[1], ARGV[1]
    if not kale_release(C, KEYS[2], key, id, ARGV[2], ARGV[3]) then return 0 end
    redis.call('HSET', key, 'attempt', ARGV[4])
    if redis.call('HEXISTS', key, 'cancel') == 1 then
      kale_cancelled(C, key, id, 'cancelled while its worker stopped')
      return 3
    end
    redis.call('HSET', key, 'state', 'pending')
    redis.call('HDEL', key, 'worker', 'lease', 'run', 'started_at', 'progress')
    kale_push({KEYS[3], KEYS[4], KEYS[5]}, KEYS[6], redis.call('HGET', key, 'prio'), id, true)
    return 1
    """#)
}
