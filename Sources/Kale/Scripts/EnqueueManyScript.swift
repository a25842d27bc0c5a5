import KaleRedis

extension Scripts {
    /// Creates many tasks that share their options (a batch) in one call.
    ///
    /// One script call per task cost about 15 µs of Redis time each; here the per-task work is
    /// one HSET, and the ids and wake-up tokens go out in one LPUSH each. The ids are fresh
    /// random UUIDs made by the caller, so unlike ``enqueue`` this does not look for an existing
    /// record first (that was a sixth of the script's time); batches with a caller-chosen id
    /// or a unique key use ``enqueue`` per task instead.
    /// KEYS: 1 pending list of the batch's priority, 2 scheduled set, 3 notify list
    /// ARGV: 1 task-key prefix, 2 now ms, 3 due ms (0 = now), 4 priority rank, 5 max retries,
    ///       6 expires at ms (0 = never), 7 result TTL ms, 8 task name, then id, message pairs
    /// Returns: the number of tasks created.
    static let enqueueMany = RedisScript(name: "enqueueMany", source: #"""
    local tp, now, due = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
    local state = 'pending'
    if due > now then state = 'scheduled' end
    local prio, retries, at, ttl, name = ARGV[4], ARGV[5], ARGV[2], ARGV[7], ARGV[8]
    local expires = tonumber(ARGV[6]) > 0 and ARGV[6] or nil
    local ids, n = {}, 0
    for i = 9, #ARGV, 2 do
      local id = ARGV[i]
      -- The fields of ``enqueue``'s record, 'attempt' and 'expires_at' left out as there.
      if expires then
        redis.call('HSET', tp .. id, 'msg', ARGV[i + 1], 'state', state, 'prio', prio,
          'max_retries', retries, 'enqueued_at', at, 'ttl', ttl, 'name', name, 'expires_at', expires)
      else
        redis.call('HSET', tp .. id, 'msg', ARGV[i + 1], 'state', state, 'prio', prio,
          'max_retries', retries, 'enqueued_at', at, 'ttl', ttl, 'name', name)
      end
      n = n + 1
      ids[n] = id
    end
    if n == 0 then return 0 end
    if state == 'scheduled' then
      local scored = {}
      for i = 1, n do
        scored[2 * i - 1] = due
        scored[2 * i] = ids[i]
      end
      redis.call('ZADD', KEYS[2], unpack(scored))
    else
      redis.call('LPUSH', KEYS[1], unpack(ids))
      local tokens = {}
      for i = 1, n do tokens[i] = '1' end
      redis.call('LPUSH', KEYS[3], unpack(tokens))
    end
    return n
    """#)
}
