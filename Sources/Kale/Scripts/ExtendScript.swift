import KaleRedis

extension Scripts {
    /// Pushes the lease deadline of a worker's running tasks forward (the heartbeat).
    ///
    /// KEYS: 1 active set
    /// ARGV: 1 new deadline ms, 2 worker id, 3 task-key prefix, 4… task ids
    /// Returns: {ids whose lease this worker no longer holds (it must stop them), ids with a
    ///          cancel request (a backstop for a missed pub/sub message)}
    static let extend = RedisScript(name: "extend", source: #"""
    local lost, cancel = {}, {}
    for i = 4, #ARGV do
      local id = ARGV[i]
      local f = redis.call('HMGET', ARGV[3] .. id, 'worker', 'cancel')
      if redis.call('ZSCORE', KEYS[1], id) and f[1] == ARGV[2] then
        redis.call('ZADD', KEYS[1], 'XX', ARGV[1], id)
        if f[2] then cancel[#cancel + 1] = id end
      else
        lost[#lost + 1] = id
      end
    end
    return {lost, cancel}
    """#)
}
