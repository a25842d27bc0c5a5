import KaleRedis

extension Scripts {
    /// Takes up to N ended steps from a queue's workflow outbox under a lease: each is hidden
    /// for `lease` ms, and shows again if its taker dies before it removes it (decision 0024).
    /// KEYS: 1 the queue's workflow outbox
    /// ARGV: 1 now ms, 2 lease ms, 3 max entries
    /// Returns: the task ids taken
    static let workflowTake = RedisScript(name: "workflow_take", source: #"""
    local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
    local hidden = tonumber(ARGV[1]) + tonumber(ARGV[2])
    for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], 'XX', hidden, id) end
    return ids
    """#)

    /// Records the output of member `index` of a workflow's group, once (a replay changes
    /// nothing), and says whether every member has one.
    /// KEYS: 1 the workflow's hash, 2 the group's join hash (``Keys/workflowJoin(_:_:)``)
    /// ARGV: 1 member index, 2 output JSON, 3 member count
    /// Returns: {-1} the workflow is not running; {0} members still missing; {1, output 0, …}
    ///          complete, the outputs in member order
    static let workflowJoin = RedisScript(name: "workflow_join", source: #"""
    local wf = redis.call('HMGET', KEYS[1], 'state', 'ttl')
    if wf[1] ~= 'running' then return {-1} end
    -- Kept as long as the workflow's own record may be (its TTL plus the week a running one
    -- has), renewed by every member, so a slow group never loses its first outputs.
    if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then
      redis.call('PEXPIRE', KEYS[2], tonumber(wf[2] or '86400000') + 604800000)
    end
    local n = tonumber(ARGV[3])
    if redis.call('HLEN', KEYS[2]) < n then return {0} end
    -- In chunks: unpack() of more than a few thousand values overflows Lua's stack.
    local out = {1}
    for first = 0, n - 1, 1000 do
      local fields = {}
      for i = first, math.min(first + 999, n - 1) do fields[#fields + 1] = tostring(i) end
      for _, v in ipairs(redis.call('HMGET', KEYS[2], unpack(fields))) do out[#out + 1] = v end
    end
    return out
    """#)

    /// Ends a running workflow: succeeded with its output, or failed or cancelled with the
    /// step and error that ended it; keeps its record for its TTL and wakes its waiters.
    /// KEYS: 1 the workflow's hash
    /// ARGV: 1 state, 2 now ms, 3 result JSON or error JSON, 4 the step that failed ('' for
    ///       none), 5 done channel
    /// Returns: 1 ended now, 0 it had ended already
    static let workflowEnd = RedisScript(name: "workflow_end", source: #"""
    local f = redis.call('HMGET', KEYS[1], 'state', 'ttl')
    if f[1] ~= 'running' then return 0 end
    local field = 'error'
    if ARGV[1] == 'succeeded' then field = 'result' end
    redis.call('HSET', KEYS[1], 'state', ARGV[1], 'finished_at', ARGV[2], field, ARGV[3])
    if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'failed_step', ARGV[4]) end
    redis.call('PEXPIRE', KEYS[1], tonumber(f[2] or '86400000'))
    redis.call('PUBLISH', ARGV[5], ARGV[1])
    return 1
    """#)
}

extension Scripts {
    /// Writes a workflow step that was never created as `cancelled`, so a start racing the
    /// workflow's end meets `DUPLICATE` and nothing runs; a step that exists is left alone.
    /// KEYS: 1 the step's task record
    /// ARGV: 1 now ms, 2 TTL ms
    /// Returns: 1 written, 0 the step exists
    static let workflowTombstone = RedisScript(name: "workflow_tombstone", source: #"""
    if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
    redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished_at', ARGV[1], 'error',
      '{"kind":"cancelled","type":"Cancelled","message":"its workflow ended before it started","retryable":false}')
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
    """#)
}
