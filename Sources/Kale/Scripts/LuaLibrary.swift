/// Lua helpers shared by the transition scripts, pasted at the top of the ones that need them.
///
/// Every helper takes `C`, a table the script fills from its KEYS and ARGV:
/// `C.tp` task-key prefix, `C.chan` done-channel prefix, `C.stats` stats-key prefix,
/// `C.dead` dead-set key, `C.deadMax` / `C.deadAge` dead-set caps, `C.ttl` default result
/// TTL (ms), `C.now` the caller's time (ms).
enum LuaLibrary {
    static let source = CeleryLua.source + #"""
    local function kale_stat(C, kind)
      local k = C.stats .. kind .. ':' .. math.floor(C.now / 10000)
      if redis.call('INCR', k) == 1 then redis.call('PEXPIRE', k, 130000) end
    end

    local function kale_release_unique(key, id)
      local u = redis.call('HGET', key, 'unique')
      if u and redis.call('GET', u) == id then redis.call('DEL', u) end
    end

    local function kale_ttl(C, key)
      return tonumber(redis.call('HGET', key, 'ttl') or '') or C.ttl
    end

    -- Wakes whoever awaits the task. With a subscriber, the message is the whole record (a
    -- JSON array of field, value, ...) so the waiter needs no read of its own afterwards; with
    -- none, nothing is sent and no record is encoded. A big record (over 64 KiB of message and
    -- result) is not sent whole: every subscriber's output buffer would hold a copy, and one
    -- over `client-output-buffer-limit pubsub` disconnects the shared subscriber of all waits.
    -- Its state alone is sent, and the waiter reads the record.
    local function kale_publish(C, key, id)
      local channel = C.chan .. id
      if redis.call('PUBSUB', 'NUMSUB', channel)[2] == 0 then return end
      if redis.call('HSTRLEN', key, 'msg') + redis.call('HSTRLEN', key, 'result') > 65536 then
        redis.call('PUBLISH', channel, redis.call('HGET', key, 'state'))
        return
      end
      redis.call('PUBLISH', channel, cjson.encode(redis.call('HGETALL', key)))
    end

    -- Ends a task for good (succeeded, cancelled, expired, failed): keep the record for its
    -- result TTL, free its unique key, count it and wake whoever awaits it. `extra` (field,
    -- value, ...) goes into the same HSET: one command fewer per finished task.
    local function kale_finish(C, key, id, state, extra)
      local fields = {'state', state, 'finished_at', C.now}
      if extra then for _, v in ipairs(extra) do fields[#fields + 1] = v end end
      redis.call('HSET', key, unpack(fields))
      local f = redis.call('HMGET', key, 'ttl', 'unique', 'cel')
      local ttl = tonumber(f[1] or '') or C.ttl
      if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
      if f[2] and redis.call('GET', f[2]) == id then redis.call('DEL', f[2]) end
      if f[3] then kale_celery_end(key, f[3], state, C.now) end
      kale_stat(C, state)
      kale_publish(C, key, id)
    end

    -- Moves a task to the dead set with its error, then keeps the set within its caps: the
    -- oldest entries leave it and become 'failed' records that expire with the result TTL.
    local function kale_dead(C, key, id, err)
      redis.call('HSET', key, 'state', 'dead', 'error', err, 'finished_at', C.now)
      redis.call('PERSIST', key)
      redis.call('ZADD', C.dead, C.now, id)
      kale_release_unique(key, id)
      local cel = redis.call('HGET', key, 'cel')
      if cel then kale_celery_end(key, cel, 'dead', C.now) end
      kale_stat(C, 'dead')
      kale_publish(C, key, id)
      local trimmed = redis.call('ZRANGEBYSCORE', C.dead, '-inf', '(' .. (C.now - C.deadAge), 'LIMIT', 0, 100)
      local n = redis.call('ZCARD', C.dead) - #trimmed
      if n > C.deadMax then
        for _, x in ipairs(redis.call('ZRANGE', C.dead, #trimmed, #trimmed + n - C.deadMax - 1)) do
          trimmed[#trimmed + 1] = x
        end
      end
      for _, x in ipairs(trimmed) do
        local xk = C.tp .. x
        redis.call('ZREM', C.dead, x)
        if redis.call('EXISTS', xk) == 1 then
          redis.call('HSET', xk, 'state', 'failed')
          local ttl = kale_ttl(C, xk)
          if ttl > 0 then redis.call('PEXPIRE', xk, ttl) end
        end
      end
    end

    local function kale_error(kind, typ, message, retryable)
      return cjson.encode({kind = kind, type = typ, message = message, retryable = retryable})
    end

    -- True when `worker` still holds lease `lease` of task `id`. A lease token is new for
    -- every fetch, so a run whose lease lapsed cannot act on a later lease of the same task,
    -- even one held by the same worker.
    local function kale_holds(activeKey, key, id, worker, lease)
      if not redis.call('ZSCORE', activeKey, id) then return false end
      local f = redis.call('HMGET', key, 'worker', 'lease')
      return f[1] == worker and f[2] == lease
    end

    -- Ends lease `lease` of `worker` on task `id`: true when it was still held (it is now out
    -- of the active set). One read and one ZREM, where a check and then a ZREM took three.
    local function kale_release(activeKey, key, id, worker, lease)
      local f = redis.call('HMGET', key, 'worker', 'lease')
      if f[1] ~= worker or f[2] ~= lease then return false end
      return redis.call('ZREM', activeKey, id) == 1
    end

    -- Counts the start of a run (see the start script): 1 started, 2 started but a cancel is
    -- requested, 0 lease lost. No look at the active set: a reap or a requeue deletes `lease`,
    -- and a start arriving after its own run ended (it was sent without waiting) only writes
    -- again the attempt that the end of the run wrote.
    local function kale_start(key, worker, lease, attempt, now)
      local f = redis.call('HMGET', key, 'worker', 'lease', 'cancel')
      if f[1] ~= worker or f[2] ~= lease then return 0 end
      redis.call('HSET', key, 'run', lease, 'attempt', attempt, 'started_at', now)
      if f[3] then return 2 end
      return 1
    end

    -- The state in which lease `lease` of `worker` already ended the task, or nil: a retried
    -- acknowledgement (its first try ran, but the reply was lost with the connection) must
    -- report what it did, not a lost lease.
    local function kale_ended_by(key, worker, lease)
      local f = redis.call('HMGET', key, 'state', 'worker', 'lease')
      if f[2] == worker and f[3] == lease and f[1] ~= 'started' and f[1] ~= 'pending' then return f[1] end
      return nil
    end

    -- Ends a task that was cancelled while a worker held it (the worker died, hung or was
    -- stopped before it could record the cancel).
    local function kale_cancelled(C, key, id, how)
      redis.call('HSET', key, 'error', kale_error('cancelled', 'Cancelled', how, false))
      redis.call('HDEL', key, 'cancel')
      kale_finish(C, key, id, 'cancelled')
    end

    local function kale_push(pendingKeys, notify, prio, id, front)
      local list = pendingKeys[(tonumber(prio) or 1) + 1] or pendingKeys[2]
      if front then redis.call('RPUSH', list, id) else redis.call('LPUSH', list, id) end
      redis.call('LPUSH', notify, '1')
    end
    """# + "\n"
}
