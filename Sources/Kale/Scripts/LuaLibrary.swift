/// Lua helpers shared by the transition scripts, pasted at the top of the ones that need them.
///
/// Every helper takes `C`, a table the script fills from its KEYS and ARGV:
/// `C.tp` task-key prefix, `C.chan` done-channel prefix, `C.obs` the observation spec
/// (``Broker/observation(_:)``: `<queue prefix>|<history 0/1>|<event stream length>|<a/w>[c]`,
/// `c` on a Redis Cluster),
/// `C.dead` dead-set key, `C.deadMax` / `C.deadAge` dead-set caps, `C.ttl` default result
/// TTL (ms), `C.now` the caller's time (ms). `C.ran` marks a transition that ends a run
/// (succeed, fail): only those feed the run- and wait-time histograms; `C.lease` is that
/// run's lease token.
enum LuaLibrary {
    static let source = CeleryLua.source + observe + #"""
    -- The histogram bucket of a duration in ms: HistoryBuckets.bounds in Swift, the same 18
    -- upper bounds (+Inf is bucket 18).
    local kale_bounds = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
      120000, 300000, 600000, 1800000, 3600000}
    local function kale_bucket(ms)
      for i, b in ipairs(kale_bounds) do if ms <= b then return i - 1 end end
      return #kale_bounds
    end

    local function kale_stat(C, kind)
      kale_spec(C)
      local k = C.stats .. kind .. ':' .. math.floor(C.now / 10000)
      if redis.call('INCR', k) == 1 then redis.call('PEXPIRE', k, 130000) end
    end

    -- The error type of an error JSON, for an event (no decode: a type never holds a quote).
    local function kale_error_type(err)
      return err and string.match(err, '"type":"([^"]*)"')
    end

    -- Records that task `id` reached `kind`: the 10-s counter, the per-minute history and
    -- the event stream. A minute's field is `<kind>:<run bucket>:<wait bucket>` (buckets
    -- empty when not measured: a run's end has a run time, its first attempt a wait), so one
    -- HINCRBY records the count and both histograms. `f` is the record's name, worker,
    -- attempt, enqueued_at, ready_at, started_at, run when the caller read them already.
    local kale_note_fields = {'name', 'worker', 'attempt', 'enqueued_at', 'ready_at', 'started_at', 'run'}
    local function kale_note(C, key, id, kind, f, detail)
      kale_stat(C, kind)
      if not C.hist and not C.events then return end
      f = f or redis.call('HMGET', key, unpack(kale_note_fields))
      if C.hist then
        local run, wait = '', ''
        local started = tonumber(f[6] or '')
        if C.ran and started then
          run = kale_bucket(C.now - started)
          if f[3] == '1' then
            local ready = math.max(tonumber(f[4] or '0') or 0, tonumber(f[5] or '0') or 0)
            if ready > 0 then wait = kale_bucket(math.max(started - ready, 0)) end
          end
        end
        kale_history(C, kind .. ':' .. run .. ':' .. wait, 1)
      end
      if C.events then
        if C.lease and f[7] ~= C.lease then
          -- The run's start mark (sent without waiting) has not arrived: its event is
          -- written here, before the end, and kale_start will not write it again.
          local defer = C.defer
          C.defer = false
          kale_event(C, 'started', id, f[1], f[3], f[2])
          C.defer = defer
        end
        kale_event(C, kind, id, f[1], f[3], f[2], detail)
      end
    end

    local function kale_release_unique(key, id)
      local u = redis.call('HGET', key, 'unique')
      if u and redis.call('GET', u) == id then redis.call('DEL', u) end
    end

    local function kale_ttl(C, key)
      return tonumber(redis.call('HGET', key, 'ttl') or '') or C.ttl
    end

    -- A step of a workflow ended for good: its advance waits in the queue's workflow outbox,
    -- written in the same step as the outcome, for a worker to carry it to the workflow's
    -- own slot (decision 0024). The entry is the task id; the outcome is in its record. It
    -- is due 2 s on: the worker that ended the step forwards it at once, and the sweep that
    -- takes due entries is for a worker that died first.
    local function kale_workflow_step_ended(C, id)
      kale_spec(C)
      redis.call('ZADD', C.qp .. 'wf:outbox', C.now + 2000, id)
    end

    -- Wakes whoever awaits the task. With a subscriber, the message is the whole record (a
    -- JSON array of field, value, ...) so the waiter needs no read of its own afterwards; with
    -- none, nothing is sent and no record is encoded. A big record (over 64 KiB of message and
    -- result) is not sent whole: every subscriber's output buffer would hold a copy, and one
    -- over `client-output-buffer-limit pubsub` disconnects the shared subscriber of all waits.
    -- Its state alone is sent, and the waiter reads the record.
    -- On a Redis Cluster (C.sharded) the channel is a shard channel in this script's slot:
    -- its waiters subscribe on this node (ShardedSubscriber), so SHARDNUMSUB counts them all
    -- and SPUBLISH reaches them without crossing the cluster bus.
    local function kale_publish(C, key, id)
      local channel = C.chan .. id
      kale_spec(C)
      local listeners
      if C.sharded then
        listeners = redis.call('PUBSUB', 'SHARDNUMSUB', channel)[2]
      else
        listeners = redis.call('PUBSUB', 'NUMSUB', channel)[2]
      end
      if listeners == 0 then return end
      local payload
      if redis.call('HSTRLEN', key, 'msg') + redis.call('HSTRLEN', key, 'result') > 65536 then
        payload = redis.call('HGET', key, 'state')
      else
        payload = cjson.encode(redis.call('HGETALL', key))
      end
      if C.sharded then redis.call('SPUBLISH', channel, payload) else redis.call('PUBLISH', channel, payload) end
    end

    -- A task of an end group ended for good: its id joins the group's stream, which the
    -- producer awaiting the batch reads (KaleClient.waitAll): one blocking read for many ends,
    -- where a wait per task cost a subscription, a read and an unsubscription each. A stream,
    -- not a list: it is read from a cursor, so the producer needs no right to take anything.
    -- It lives in the task's queue slot and expires with the results (a day when they are
    -- kept for ever), so a producer that stopped waiting leaves nothing behind.
    local function kale_ended_in_group(C, id, group, ttl)
      kale_spec(C)
      local stream = C.qp .. 'ends:' .. group
      redis.call('XADD', stream, '*', 'i', id)
      ttl = tonumber(ttl or '') or C.ttl
      if ttl <= 0 then ttl = 86400000 end
      redis.call('PEXPIRE', stream, ttl)
    end

    -- Ends a task for good (succeeded, cancelled, expired, failed): keep the record for its
    -- result TTL, free its unique key, count it and wake whoever awaits it. `extra` (field,
    -- value, ...) goes into the same HSET: one command fewer per finished task.
    local function kale_finish(C, key, id, state, extra, detail)
      local fields = {'state', state, 'finished_at', C.now}
      if extra then for _, v in ipairs(extra) do fields[#fields + 1] = v end end
      redis.call('HSET', key, unpack(fields))
      local f = redis.call('HMGET', key, 'ttl', 'unique', 'cel', 'wf', 'ends', unpack(kale_note_fields))
      local ttl = tonumber(f[1] or '') or C.ttl
      if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
      if f[2] and redis.call('GET', f[2]) == id then redis.call('DEL', f[2]) end
      if f[3] then kale_celery_end(key, f[3], state, C.now) end
      if f[4] then kale_workflow_step_ended(C, id) end
      if f[5] then kale_ended_in_group(C, id, f[5], ttl) end
      kale_note(C, key, id, state, {f[6], f[7], f[8], f[9], f[10], f[11], f[12]}, detail)
      kale_publish(C, key, id)
    end

    -- Moves a task to the dead set with its error, then keeps the set within its caps: the
    -- oldest entries leave it and become 'failed' records that expire with the result TTL.
    local function kale_dead(C, key, id, err)
      redis.call('HSET', key, 'state', 'dead', 'error', err, 'finished_at', C.now)
      redis.call('PERSIST', key)
      redis.call('ZADD', C.dead, C.now, id)
      kale_release_unique(key, id)
      local cw = redis.call('HMGET', key, 'cel', 'wf', 'ends', 'ttl')
      if cw[1] then kale_celery_end(key, cw[1], 'dead', C.now) end
      if cw[2] then kale_workflow_step_ended(C, id) end
      if cw[3] then kale_ended_in_group(C, id, cw[3], cw[4]) end
      kale_note(C, key, id, 'dead', nil, kale_error_type(err))
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

    -- Lets the first task still waiting for a concurrency permit of `permits` (a sorted set
    -- `<queue prefix>limit:permits:<bucket>`, see FlowLua) try again now: it waits in the
    -- scheduled set, due one lease from when it was deferred, and is made due at once. Its
    -- place in line is `<queue prefix>limit:wait:<bucket>`, a sorted set by time of deferral
    -- (a task deferred again keeps its place). Entries of tasks that stopped waiting (woken by
    -- that due time, cancelled) are skipped.
    local function kale_permit_wake(C, permits)
      local qp = string.match(permits, '^([^}]*}:)')
      local line = qp .. 'limit:wait:' .. string.sub(permits, #qp + 15)
      for _ = 1, 50 do
        local w = redis.call('ZPOPMIN', line)[1]
        if not w then return end
        local wk = qp .. 't:' .. w
        local f = redis.call('HMGET', wk, 'waiting', 'deferred')
        if f[1] == permits and f[2] == 'concurrency' and redis.call('ZSCORE', qp .. 'scheduled', w) then
          redis.call('HDEL', wk, 'waiting')
          redis.call('ZADD', qp .. 'scheduled', C.now, w)
          return
        end
      end
    end

    -- Gives back the concurrency permit task `id` holds (named by its record's `permit`), and
    -- wakes one waiter for it.
    local function kale_permit_free(C, key, id, permits)
      redis.call('HDEL', key, 'permit')
      if redis.call('ZREM', permits, id) == 1 then kale_permit_wake(C, permits) end
    end

    -- Ends lease `lease` of `worker` on task `id`: true when it was still held (it is now out
    -- of the active set, and any concurrency permit it held is given back). One read and one
    -- ZREM, where a check and then a ZREM took three.
    local function kale_release(C, activeKey, key, id, worker, lease)
      local f = redis.call('HMGET', key, 'worker', 'lease', 'permit')
      if f[1] ~= worker or f[2] ~= lease then return false end
      if redis.call('ZREM', activeKey, id) ~= 1 then return false end
      if f[3] then kale_permit_free(C, key, id, f[3]) end
      return true
    end

    -- Counts the start of a run (see the start script): 1 started, 2 started but a cancel is
    -- requested, 0 lease lost. No look at the active set: a reap or a requeue deletes `lease`,
    -- and a start arriving after its own run ended (it was sent without waiting) only writes
    -- again the attempt that the end of the run wrote.
    local function kale_start(C, key, id, worker, lease, attempt, now)
      local f = redis.call('HMGET', key, 'worker', 'lease', 'cancel', 'name', 'state', 'run')
      if f[1] ~= worker or f[2] ~= lease then
        kale_flush(C)
        return 0
      end
      redis.call('HSET', key, 'run', lease, 'attempt', attempt, 'started_at', now)
      kale_spec(C)
      if C.events and (f[5] ~= 'started' or f[6] == lease) then
        -- A start mark that arrived after its run ended (the end wrote the event), or a
        -- retried call whose first try counted this start already.
        kale_flush(C)
      elseif C.events then
        local e = C.deferred
        C.deferred, C.defer = nil, false
        if e and not kale_wants(C, 'started') then
          redis.call(unpack(e))
        elseif e then
          -- The end of the runner's previous task and this start are one step: one entry.
          e[#e + 1] = 's'; e[#e + 1] = id; e[#e + 1] = 'sa'; e[#e + 1] = attempt
          if f[4] then e[#e + 1] = 'sn'; e[#e + 1] = f[4] end
          redis.call(unpack(e))
        else
          kale_event(C, 'started', id, f[4], attempt, worker)
        end
      end
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
      kale_finish(C, key, id, 'cancelled', nil, 'Cancelled')
    end

    local function kale_push(pendingKeys, notify, prio, id, front)
      local list = pendingKeys[(tonumber(prio) or 1) + 1] or pendingKeys[2]
      if front then redis.call('RPUSH', list, id) else redis.call('LPUSH', list, id) end
      redis.call('LPUSH', notify, '1')
    end
    """# + "\n"

    /// The part the enqueue script also needs (it does without the rest, which would cost it
    /// the definition of every helper on each call).
    static let observe = #"""
    -- Reads the observation spec once per call: which of the queue's history and event
    -- stream this process writes (decision 0019).
    local function kale_spec(C)
      if C.stats then return end
      local p, h, e, m, c = string.match(C.obs, '^(.*)|(%d)|(%d+)|([aw])(c?)$')
      if not p then p, h, e, m, c = C.obs, '0', '0', 'w', '' end
      C.sharded = c == 'c'
      C.stats = p .. 'stats:'
      C.qp = p
      if h == '1' then C.hist = p .. 'history:' end
      local n = tonumber(e)
      if n > 0 then C.events, C.evmax, C.evall = p .. 'events', n, m == 'a' end
    end

    -- The frequent kinds, written only in mode 'a' (a task held back by its limits may be
    -- deferred again and again: it would crowd the failures out of the capped stream) (every event, or the queue is watched:
    -- the caller knows, see EventWatch); every other kind always.
    local kale_frequent = {enqueued = true, started = true, succeeded = true, deferred = true}
    local function kale_wants(C, kind)
      return C.events ~= nil and (C.evall or not kale_frequent[kind])
    end

    -- One entry of the queue's event stream (capped, approximately, at C.evmax). With
    -- C.defer (a transition with the runner's next start folded in) the entry waits for
    -- kale_start, which adds the start to it: one XADD for both.
    local function kale_event(C, kind, id, name, attempt, worker, detail)
      if not kale_wants(C, kind) then return end
      local e = {'XADD', C.events, 'MAXLEN', '~', C.evmax, '*', 'k', kind, 'i', id}
      if name then e[#e + 1] = 'n'; e[#e + 1] = name end
      if attempt then e[#e + 1] = 'a'; e[#e + 1] = attempt end
      if worker then e[#e + 1] = 'w'; e[#e + 1] = worker end
      if detail then e[#e + 1] = 'x'; e[#e + 1] = detail end
      if C.defer then C.deferred = e else redis.call(unpack(e)) end
    end

    local function kale_flush(C)
      if C.deferred then redis.call(unpack(C.deferred)) end
      C.deferred, C.defer = nil, false
    end

    -- Adds `n` to `field` of the current minute; the first write of a field sets the
    -- minute's expiry (the key's first write is always one), so no PEXPIRE per task.
    local function kale_history(C, field, n)
      local k = C.hist .. math.floor(C.now / 60000)
      if redis.call('HINCRBY', k, field, n) == n then redis.call('PEXPIRE', k, 90000000) end
    end

    -- Counts `n` new tasks named `name` (the first, or only, is `id`) in the history and the
    -- event stream.
    local function kale_enqueued(C, id, name, n)
      kale_spec(C)
      if C.hist then kale_history(C, 'enqueued::', n) end
      if C.events then kale_event(C, 'enqueued', id, name) end
    end
    """# + "\n"
}
