import KaleRedis

extension Scripts {
    /// Creates many tasks that share their options (a batch) in one call.
    ///
    /// One script call per task cost about 15 µs of Redis time each; here the per-task work is
    /// an EXISTS and an HSET, and the ids and wake-up tokens go out in one LPUSH each.
    /// Batches with a unique key use ``enqueue`` per task instead (they would all share it).
    /// KEYS: 1 pending list of the batch's priority, 2 scheduled set, 3 notify list
    /// ARGV: 1 task-key prefix, 2 now ms, 3 due ms (0 = now), 4 priority rank, 5 max retries,
    ///       6 expires at ms (0 = never), 7 result TTL ms, 8 task name, then id, message pairs
    /// Returns: one integer per task in order: 1 created, 0 not created (its id exists).
    static let enqueueMany = RedisScript(name: "enqueueMany", source: #"""
    local tp, now, due = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
    local state = 'pending'
    if due > now then state = 'scheduled' end
    local out, ids, tokens, scored = {}, {}, {}, {}
    for i = 9, #ARGV, 2 do
      local id = ARGV[i]
      local key = tp .. id
      if redis.call('EXISTS', key) == 1 then
        out[#out + 1] = 0
      else
        redis.call('HSET', key, 'msg', ARGV[i + 1], 'state', state, 'prio', ARGV[4], 'attempt', 0,
          'max_retries', ARGV[5], 'expires_at', ARGV[6], 'enqueued_at', ARGV[2], 'ttl', ARGV[7], 'name', ARGV[8])
        out[#out + 1] = 1
        ids[#ids + 1] = id
        tokens[#tokens + 1] = '1'
        scored[#scored + 1] = due
        scored[#scored + 1] = id
      end
    end
    if #ids > 0 then
      if state == 'scheduled' then
        redis.call('ZADD', KEYS[2], unpack(scored))
      else
        redis.call('LPUSH', KEYS[1], unpack(ids))
        redis.call('LPUSH', KEYS[3], unpack(tokens))
      end
    end
    return out
    """#)
}
