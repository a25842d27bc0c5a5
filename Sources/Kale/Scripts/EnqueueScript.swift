import KaleRedis

extension Scripts {
    /// Creates a task record and queues it (pending, or scheduled when due later).
    ///
    /// KEYS: 1 task record, 2 pending list of its priority, 3 scheduled set, 4 notify list,
    ///       5 unique key (any key of the queue when there is none)
    /// ARGV: 1 id, 2 message, 3 now ms, 4 due ms (0 = now), 5 priority rank, 6 max retries,
    ///       7 expires at ms (0 = never), 8 result TTL ms, 9 unique TTL ms (0 = not unique),
    ///       10 task name, 11 observation (see ``Broker/observation(_:)``)
    /// Returns: {1, id} when created; {0, owner id} when the unique key is held.
    /// Errors: `DUPLICATE` when a record with this id exists.
    static let enqueue = RedisScript(name: "enqueue", source: LuaLibrary.observe + #"""
    local key, id = KEYS[1], ARGV[1]
    local now, due = tonumber(ARGV[3]), tonumber(ARGV[4])
    if redis.call('EXISTS', key) == 1 then
      return redis.error_reply('DUPLICATE task id ' .. id)
    end
    local unique = tonumber(ARGV[9]) > 0
    if unique then
      local owner = redis.call('GET', KEYS[5])
      if owner then return {0, owner} end
      redis.call('SET', KEYS[5], id, 'PX', ARGV[9])
    end
    local state = 'pending'
    if due > now then state = 'scheduled' end
    -- 'attempt' (0) and 'expires_at' (never) are left out until they mean something: each
    -- field costs Redis time on every enqueue, and every reader takes absent as the default.
    redis.call('HSET', key, 'msg', ARGV[2], 'state', state, 'prio', ARGV[5],
      'max_retries', ARGV[6], 'enqueued_at', ARGV[3], 'ttl', ARGV[8], 'name', ARGV[10])
    if tonumber(ARGV[7]) > 0 then redis.call('HSET', key, 'expires_at', ARGV[7]) end
    if unique then redis.call('HSET', key, 'unique', KEYS[5]) end
    if state == 'scheduled' then
      redis.call('ZADD', KEYS[3], due, id)
    else
      redis.call('LPUSH', KEYS[2], id)
      redis.call('LPUSH', KEYS[4], '1')
    end
    kale_enqueued({now = now, obs = ARGV[11]}, id, ARGV[10], 1)
    return {1, id}
    """#)
}

/// The Lua scripts, one per state transition. Each takes the time from its caller (ARGV), so
/// every worker and producer agrees on "now" only as far as their clocks do (run NTP).
enum Scripts {}
