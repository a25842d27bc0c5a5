import KaleRedis

extension Scripts {
    /// Leases up to N tasks to a worker, highest priority first: pending -> started (held by
    /// a worker), in one step.
    ///
    /// The lease is named by `lease`, a token new for every fetch; every later script that acts
    /// on the task checks it. No attempt is spent here: a leased task may wait in the worker's
    /// prefetch buffer and never run, so the attempt is counted by ``Scripts/start`` when a
    /// runner takes it (decision 0016).
    /// Ids whose record is missing, whose message is over the size limit, or that expired are
    /// dealt with here (dead or expired) and not returned. When every pending list is empty
    /// the notify list is deleted, so stale wake-up tokens never pile up.
    /// A paused queue leases nothing; a task over its rate limit or concurrency cap is
    /// deferred instead of leased (``FlowLua``), spending no attempt.
    /// KEYS: 1-3 pending lists (high, normal, low), 4 active set, 5 notify list, 6 dead set,
    ///       7 control hash, 8 scheduled set
    /// ARGV: 1 now ms (0: use Redis' clock), 2 lease deadline ms (with now 0: lease length ms), 3 worker id, 4 max tasks, 5 max message bytes,
    ///       6 task-key prefix, 7 done-channel prefix, 8 observation (see ``Broker/observation(_:)``), 9 dead max size,
    ///       10 dead max age ms, 11 default result TTL ms, 12 lease token
    /// Returns: a flat array {id, message, attempt it will run as, ready since (ms), id, …};
    ///          -1 when the queue is paused
    static let fetch = RedisScript(name: "fetch", source: LuaLibrary.source + FlowLua.admit + #"""
    local C = {now = tonumber(ARGV[1]), tp = ARGV[6], chan = ARGV[7], obs = ARGV[8], dead = KEYS[6],
      deadMax = tonumber(ARGV[9]), deadAge = tonumber(ARGV[10]), ttl = tonumber(ARGV[11]),
      active = KEYS[4], sched = KEYS[8]}
    C.lp = string.sub(C.tp, 1, #C.tp - 2) .. 'limit:'
    -- The queue's flow controls: one read per fetch, none per task.
    local ctl, limits = redis.call('HGETALL', KEYS[7]), nil
    for i = 1, #ctl, 2 do
      if ctl[i] == 'paused' then return -1 end
      if string.sub(ctl[i], 1, 6) == 'limit:' then
        limits = limits or {}
        limits[string.sub(ctl[i], 7)] = ctl[i + 1]
      end
    end
    local deadline = tonumber(ARGV[2])
    if C.now == 0 then
      -- Sent ahead of time (pipelined behind a BLPOP): the caller's clock would be stale by
      -- the time this runs, so take Redis' clock and read ARGV[2] as the lease's length.
      local t = redis.call('TIME')
      C.now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      deadline = C.now + deadline
    end
    local want, maxSize = tonumber(ARGV[4]), tonumber(ARGV[5])
    local out = {}
    local budget = want + 100
    local li = 1
    while #out < want * 4 and li <= 3 and budget > 0 do
      local id = redis.call('RPOP', KEYS[li])
      if not id then
        li = li + 1
      else
        budget = budget - 1
        if #id > 200 then
          -- Not an id at all (a raw message pushed by hand): keep it under a derived id.
          local raw = id
          id = 'invalid-' .. redis.sha1hex(raw)
          redis.call('HSET', C.tp .. id, 'msg', raw, 'attempt', 0, 'max_retries', 0)
          kale_dead(C, C.tp .. id, id, kale_error('rejected', 'NotAnID', 'the pending list held a value that is not a task id', false))
        else
          local key = C.tp .. id
          -- One read of everything a lease needs, the message included unless it is over the
          -- limit (then the state again stands in its place, so a huge message is never
          -- copied into the script): per task one HSTRLEN and one HMGET, where a HEXISTS, an
          -- HGET of the message and an HDEL of marks that are rarely there cost three more
          -- calls (INFO commandstats of a drain; docs/performance.md).
          local size = redis.call('HSTRLEN', key, 'msg')
          local f = redis.call('HMGET', key, 'state', 'expires_at', 'attempt', 'cancel', 'enqueued_at', 'ready_at', 'name', 'rate_slot',
            'progress', 'deferred', 'waiting', size <= maxSize and 'msg' or 'state')
          if not f[1] then
            kale_dead(C, key, id, kale_error('rejected', 'MissingRecord', 'no task record exists for this id', false))
          elseif f[1] ~= 'pending' then
            -- Already ended (e.g. cancelled): the id was stale, nothing to run.
          elseif f[4] then
            kale_cancelled(C, key, id, 'cancelled before it started')
          elseif (tonumber(f[2] or '0') or 0) > 0 and tonumber(f[2]) <= C.now then
            kale_finish(C, key, id, 'expired')
          elseif size > maxSize then
            kale_dead(C, key, id, kale_error('rejected', 'PayloadTooLarge',
              'message of ' .. size .. ' bytes exceeds the limit of ' .. maxSize, false))
          elseif not f[12] then
            kale_dead(C, key, id, kale_error('rejected', 'MissingMessage', 'the task record has no message', false))
          else
            -- A task over its limits is deferred (not failed): it comes back when it may run.
            local admitted, permits = true, nil
            if limits and f[7] and limits[f[7]] then
              admitted, permits = kale_admit(C, key, id, f[7], limits[f[7]], f[8], deadline)
            end
            if admitted then
              if permits then
                redis.call('HSET', key, 'state', 'started', 'worker', ARGV[3], 'lease', ARGV[12], 'leased_at', C.now, 'permit', permits)
              else
                redis.call('HSET', key, 'state', 'started', 'worker', ARGV[3], 'lease', ARGV[12], 'leased_at', C.now)
              end
              if f[8] or f[9] or f[10] or f[11] then redis.call('HDEL', key, 'progress', 'deferred', 'waiting', 'rate_slot') end
              redis.call('ZADD', KEYS[4], deadline, id)
              out[#out + 1] = id
              out[#out + 1] = f[12]
              out[#out + 1] = (tonumber(f[3] or '0') or 0) + 1
              -- Since when it could run: its enqueue, or its delay's end or a retry from the
              -- dead set (ready_at), for the worker's wait-time metric.
              out[#out + 1] = math.max(tonumber(f[5] or '0') or 0, tonumber(f[6] or '0') or 0)
            end
          end
        end
      end
    end
    kale_rates_flush(C)
    if redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2]) + redis.call('LLEN', KEYS[3]) == 0 then
      redis.call('DEL', KEYS[5])
    end
    return out
    """#)
}
