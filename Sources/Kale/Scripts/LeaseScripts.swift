import KaleRedis

extension Scripts {
    /// Pushes the lease deadline of a worker's held tasks forward (the heartbeat).
    ///
    /// Each task is named with its lease token: a worker that leased the same task twice
    /// (its first lease lapsed) renews only the lease it still holds. A task holding a
    /// concurrency permit keeps its lease only while it still holds the permit.
    /// KEYS: 1 active set
    /// ARGV: 1 new deadline ms, 2 worker id, 3 task-key prefix, 4… pairs of task id, lease token
    /// Returns: {positions (1-based pair numbers) whose lease this worker no longer holds (it
    ///          must stop them), positions with a cancel request (a backstop for a missed
    ///          pub/sub message)}
    static let extend = RedisScript(name: "extend", source: #"""
    local lost, cancel = {}, {}
    local n = 0
    for i = 4, #ARGV - 1, 2 do
      n = n + 1
      local id = ARGV[i]
      local f = redis.call('HMGET', ARGV[3] .. id, 'worker', 'lease', 'cancel', 'permit')
      -- A capped task whose permit went to another task while its lease had lapsed (its
      -- worker stalled) must stop: running on, it would make the cap N + 1.
      if redis.call('ZSCORE', KEYS[1], id) and f[1] == ARGV[2] and f[2] == ARGV[i + 1]
        and (not f[4] or redis.call('ZSCORE', f[4], id)) then
        redis.call('ZADD', KEYS[1], 'XX', ARGV[1], id)
        if f[3] then cancel[#cancel + 1] = n end
      else
        lost[#lost + 1] = n
      end
    end
    return {lost, cancel}
    """#)

    /// Records the progress of a running task, if the caller still holds its lease.
    ///
    /// KEYS: 1 task record, 2 active set
    /// ARGV: 1 id, 2 worker id, 3 lease token, 4 progress JSON
    /// Returns: 1 recorded, 0 lease lost
    static let progress = RedisScript(name: "progress", source: LuaLibrary.source + #"""
    if not kale_holds(KEYS[2], KEYS[1], ARGV[1], ARGV[2], ARGV[3]) then return 0 end
    redis.call('HSET', KEYS[1], 'progress', ARGV[4])
    return 1
    """#)
}
