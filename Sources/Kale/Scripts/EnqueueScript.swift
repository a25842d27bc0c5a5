import KaleRedis

extension Scripts {
    /// Creates a task record and queues it (pending, or scheduled when due later).
    ///
    /// KEYS: 1 task record, 2 pending list of its priority, 3 scheduled set, 4 notify list,
    ///       5 unique key (any key of the queue when there is none)
    /// ARGV: 1 id, 2 message, 3 now ms, 4 due ms (0 = now), 5 priority rank, 6 max retries,
    ///       7 expires at ms (0 = never), 8 result TTL ms, 9 unique TTL ms (0 = not unique),
    ///       10 task name, 11 observation (see ``Broker/observation(_:)``), 12 optional: the
    ///       workflow step it is (`<workflow id>|<path>`), 13 optional: its end group
    ///       (``Keys/ends(_:_:)``; ARGV 12 empty when not a step)
    /// Returns: {1, id} when created; {0, owner id} when the unique key is held.
    /// Errors: `DUPLICATE` when a record with this id exists.
    static let enqueue = RedisScript(name: "enqueue", source: LuaLibrary.observe + EnqueueLua.create + #"""
    if redis.call('EXISTS', KEYS[1]) == 1 then
      return redis.error_reply('DUPLICATE task id ' .. ARGV[1])
    end
    return kale_create(KEYS, ARGV, 0)
    """#)
}

/// The creation of a task record, shared by the scripts that create tasks (enqueue, a
/// schedule's fire).
enum EnqueueLua {
    /// `kale_create(K, A, o)`: K and A laid out as the enqueue script's KEYS and ARGV, with
    /// A's items shifted by `o` (a script with arguments of its own before them).
    static let create = #"""
    local function kale_create(K, A, o)
      local key, id = K[1], A[o + 1]
      local now, due = tonumber(A[o + 3]), tonumber(A[o + 4])
      local unique = tonumber(A[o + 9]) > 0
      if unique then
        local owner = redis.call('GET', K[5])
        if owner then return {0, owner} end
        redis.call('SET', K[5], id, 'PX', A[o + 9])
      end
      local state = 'pending'
      if due > now then state = 'scheduled' end
      -- 'attempt' (0) and 'expires_at' (never) are left out until they mean something: each
      -- field costs Redis time on every enqueue, and every reader takes absent as the default.
      redis.call('HSET', key, 'msg', A[o + 2], 'state', state, 'prio', A[o + 5],
        'max_retries', A[o + 6], 'enqueued_at', A[o + 3], 'ttl', A[o + 8], 'name', A[o + 10])
      if tonumber(A[o + 7]) > 0 then redis.call('HSET', key, 'expires_at', A[o + 7]) end
      if unique then redis.call('HSET', key, 'unique', K[5]) end
      -- A workflow's step: `<workflow id>|<path>`, read when it ends (kale_finish).
      if A[o + 12] and A[o + 12] ~= '' then redis.call('HSET', key, 'wf', A[o + 12]) end
      if A[o + 13] and A[o + 13] ~= '' then redis.call('HSET', key, 'ends', A[o + 13]) end
      if state == 'scheduled' then
        redis.call('ZADD', K[3], due, id)
      else
        redis.call('LPUSH', K[2], id)
        redis.call('LPUSH', K[4], '1')
      end
      kale_enqueued({now = now, obs = A[o + 11]}, id, A[o + 10], 1)
      return {1, id}
    end
    """# + "\n"
}

/// The Lua scripts, one per state transition. Each takes the time from its caller (ARGV), so
/// every worker and producer agrees on "now" only as far as their clocks do (run NTP).
enum Scripts {}
