import KaleRedis

extension Scripts {
    /// Cancels a task. A waiting one (pending, scheduled, retrying) ends `cancelled` at once;
    /// for a running one a stop is requested from the worker that holds it.
    ///
    /// KEYS: 1 task record, 2 scheduled set, 3-5 pending lists (high, normal, low)
    /// ARGV: 1 id, 2 now ms, 3 done-channel prefix, 4 observation (see ``Broker/observation(_:)``), 5 default result TTL ms,
    ///       6 cancel channel
    /// Returns: `cancelled`, `requested` (running; the worker stops it), `missing`, or the
    ///          terminal state the task already had.
    static let cancel = RedisScript(name: "cancel", source: LuaLibrary.source + #"""
    local C = {now = tonumber(ARGV[2]), chan = ARGV[3], obs = ARGV[4], ttl = tonumber(ARGV[5])}
    local key, id = KEYS[1], ARGV[1]
    local f = redis.call('HMGET', key, 'state', 'prio')
    local state = f[1]
    if not state then return 'missing' end
    if state == 'pending' then
      local list = ({KEYS[3], KEYS[4], KEYS[5]})[(tonumber(f[2]) or 1) + 1] or KEYS[4]
      redis.call('LREM', list, 1, id)
    elseif state == 'scheduled' or state == 'retrying' then
      redis.call('ZREM', KEYS[2], id)
    elseif state == 'started' then
      redis.call('HSET', key, 'cancel', '1')
      redis.call('PUBLISH', ARGV[6], id)
      return 'requested'
    else
      return state
    end
    redis.call('HSET', key, 'error', cjson.encode({kind = 'cancelled', type = 'Cancelled',
      message = 'cancelled before it started', retryable = false}))
    kale_finish(C, key, id, 'cancelled', nil, 'Cancelled')
    return 'cancelled'
    """#)
}
