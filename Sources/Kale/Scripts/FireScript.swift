import KaleRedis

extension Scripts {
    /// Fires one tick of a schedule: records the tick and creates its task in one step, so a
    /// tick is enqueued at most once however many workers (or stale leaders) try.
    ///
    /// Refused when the tick is not after the last one recorded, or its task (whose id derives
    /// from the schedule and the tick) exists: a duplicate. Refused too when the caller's
    /// fencing token is lower than one seen before: a leader whose lease lapsed (it was paused,
    /// or its clock jumped) while another took over. Both refusals are counted in the state.
    /// With mode `skip` the tick is recorded without a task (missed while no worker was alive,
    /// and the schedule does not catch up).
    /// KEYS: 1-5 as ``Scripts/enqueue``'s, 6 the schedule's state (``Keys/scheduleState(_:_:)``)
    /// ARGV: 1 tick ms, 2 fencing token, 3 mode (`fire` or `skip`), 4… as ``Scripts/enqueue``'s ARGV
    /// Returns: {1, id} fired (or skipped); {0, 'duplicate'}; {0, 'fenced'}
    static let fire = RedisScript(name: "fire", source: LuaLibrary.observe + EnqueueLua.create + #"""
    local st = redis.call('HMGET', KEYS[6], 'last', 'fence')
    local tick, fence = tonumber(ARGV[1]), tonumber(ARGV[2])
    if st[2] and fence < tonumber(st[2]) then
      redis.call('HINCRBY', KEYS[6], 'fenced', 1)
      return {0, 'fenced'}
    end
    if (st[1] and tick <= tonumber(st[1])) or redis.call('EXISTS', KEYS[1]) == 1 then
      redis.call('HINCRBY', KEYS[6], 'refused', 1)
      return {0, 'duplicate'}
    end
    redis.call('HSET', KEYS[6], 'last', tick, 'fence', fence)
    if ARGV[3] == 'skip' then
      redis.call('HINCRBY', KEYS[6], 'skipped', 1)
      return {1, ''}
    end
    redis.call('HSET', KEYS[6], 'last_id', ARGV[4], 'last_fired_at', ARGV[6])
    redis.call('HINCRBY', KEYS[6], 'fired', 1)
    return kale_create(KEYS, ARGV, 3)
    """#)

    /// Takes or renews the schedule leader's lease: the one worker that fires due ticks.
    ///
    /// A new leader gets a fencing token greater than every earlier one, which the fire script
    /// checks, so a leader that lost its lease without noticing can never fire over its
    /// successor.
    /// KEYS: 1 leader key, 2 fencing counter (both ``Keys/scheduleLeader``'s hash tag)
    /// ARGV: 1 worker id, 2 lease ms
    /// Returns: {token, 1} renewed; {token, 2} newly won; {0, ms until the holder's lease ends}
    static let lead = RedisScript(name: "lead", source: #"""
    local cur = redis.call('GET', KEYS[1])
    if cur then
      local tok, who = string.match(cur, '^(%d+):(.*)$')
      if who == ARGV[1] then
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return {tonumber(tok), 1}
      end
      return {0, redis.call('PTTL', KEYS[1])}
    end
    local tok = redis.call('INCR', KEYS[2])
    redis.call('SET', KEYS[1], tok .. ':' .. ARGV[1], 'PX', ARGV[2])
    return {tok, 2}
    """#)

    /// Gives the leader's lease up (a worker stopping), when `worker` still holds it under
    /// `token`, so a successor takes over at once rather than when the lease runs out.
    /// KEYS: 1 leader key
    /// ARGV: 1 token, 2 worker id
    /// Returns: 1 released, 0 not held
    static let abdicate = RedisScript(name: "abdicate", source: #"""
    if redis.call('GET', KEYS[1]) == ARGV[1] .. ':' .. ARGV[2] then return redis.call('DEL', KEYS[1]) end
    return 0
    """#)

    /// Raises the fencing counter to at least a token a schedule has seen (its key was lost
    /// on its own), so the next leader's token is newer than every earlier one.
    /// KEYS: 1 fencing counter
    /// ARGV: 1 token
    /// Returns: 1
    static let raiseFence = RedisScript(name: "raise_fence", source: #"""
    if (tonumber(redis.call('GET', KEYS[1]) or '0') or 0) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
    return 1
    """#)
}
