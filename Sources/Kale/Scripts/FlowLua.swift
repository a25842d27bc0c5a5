/// The Lua of the flow controls a fetch applies before it leases a task: the queue's pause,
/// and each task name's rate limit and concurrency cap (decision 0022).
///
/// A limit's spec is the `limit:<task>` field of the queue's control hash
/// (``Keys/control(_:)``): `<emission interval ms>|<burst>|<concurrency>|<key field>`, an
/// interval of 0 meaning no rate limit and a concurrency of 0 no cap (``TaskLimits/spec``).
/// A bucket is the task name, or `<name>|<value of the key field>`. The state lives in the
/// queue's slot (``Keys/limitStatePrefix(_:)``), so taking a permit
/// or a rate slot and taking the lease are one atomic step.
enum FlowLua {
    static let admit = #"""
    -- The limit bucket of a task: its name, and with a key field the value of that field of
    -- its input (tasks without it share the bucket '-').
    local function kale_limit_bucket(key, name, field)
      if field == '' then return name end
      local ok, m = pcall(cjson.decode, redis.call('HGET', key, 'msg'))
      local v
      if ok and type(m) == 'table' and type(m.args) == 'table' then v = m.args[field] end
      if type(v) == 'number' then
        v = string.format('%.17g', v)
      elseif type(v) == 'boolean' then
        v = tostring(v)
      elseif type(v) ~= 'string' or v == '' then
        v = '-'
      end
      return name .. '|' .. string.sub(v, 1, 200)
    end

    -- Parks task `id` in the scheduled set until `at`, without a lease and without spending
    -- an attempt: it is not failing, it is early.
    local function kale_defer(C, key, id, at, why, extra)
      redis.call('HSET', key, 'state', 'scheduled', 'deferred', why, unpack(extra))
      redis.call('ZADD', C.sched, at, id)
      kale_note(C, key, id, 'deferred', nil, why)
    end

    -- A spec parsed once per fetch call: {T = emission interval ms, B = burst, N = cap, field}.
    local function kale_limit_spec(C, spec)
      C.specs = C.specs or {}
      local p = C.specs[spec]
      if p == nil then
        local T, B, N, field = string.match(spec, '^([%d.]+)|(%d+)|(%d+)|(.*)$')
        T, B, N = tonumber(T or ''), tonumber(B or ''), tonumber(N or '')
        -- A spec this version cannot read (written by hand, or by another version) limits
        -- nothing: an error here would leave the task just popped in no list at all.
        p = T and B and N and {T = T, B = math.max(B, 1), N = N, field = field,
          hash = string.sub(redis.sha1hex(spec), 1, 8)} or false
        C.specs[spec] = p
      end
      return p
    end

    -- Whether task `id` (named `name`, limited by `spec`; `slot` its record's `rate_slot`) may
    -- be leased now, and the permits it then holds. When not, it is deferred: to the slot GCRA
    -- reserves for it (a rate limit: the slot is its own, so it runs then without asking
    -- again), or to the wait list of the permits, woken when one is given back (a
    -- concurrency cap; due one lease later in case the wake-up is lost). A rate's state is
    -- kept in C.rates for the rest of the call and written once by kale_rates_flush.
    local function kale_admit(C, key, id, name, spec, slot, deadline)
      local p = kale_limit_spec(C, spec)
      if not p then return true, nil end
      local bucket = kale_limit_bucket(key, name, p.field)
      local permits
      if p.N > 0 then
        permits = C.lp .. 'permits:' .. bucket
        -- A permit is valid while its holder's lease is: a killed worker's permits come back
        -- when its leases expire, whether or not a reaper has run yet. Below the cap nothing
        -- needs checking (the valid ones are fewer still); at the cap the stale ones go.
        if redis.call('ZCARD', permits) >= p.N then
          local held = 0
          for _, m in ipairs(redis.call('ZRANGE', permits, 0, -1)) do
            local s = redis.call('ZSCORE', C.active, m)
            if s and tonumber(s) >= C.now and m ~= id then
              held = held + 1
            else
              redis.call('ZREM', permits, m)
              if m ~= id then kale_permit_wake(C, permits) end
            end
          end
          if held >= p.N then
            kale_defer(C, key, id, deadline, 'concurrency', {'waiting', permits})
            redis.call('ZADD', C.lp .. 'wait:' .. bucket, 'NX', C.now, id)
            return false, nil
          end
        end
      end
      if p.T > 0 then
        -- A slot reserved for it when it was deferred is spent already (the lease deletes the
        -- mark), unless it passed over a second ago (the queue was paused, or the workers
        -- away): a backlog of old slots would all start at once, so such a task asks again.
        local reserved = tonumber(slot or '')
        if not (reserved and C.now - reserved <= math.max(p.B * p.T, 1000)) then
          -- The spec is part of the key: a changed limit starts afresh instead of inheriting
          -- the old one's reservations.
          local rk = C.lp .. 'rate:' .. bucket .. ':' .. p.hash
          C.rates = C.rates or {}
          local r = C.rates[rk]
          if not r then
            r = {tat = tonumber(redis.call('GET', rk) or '0') or 0, T = p.T}
            C.rates[rk] = r
          end
          local tat = math.max(r.tat, C.now)
          r.tat = tat + p.T
          if tat - C.now > (p.B - 1) * p.T then
            local at = math.ceil(tat - (p.B - 1) * p.T)
            kale_defer(C, key, id, at, 'rate', {'rate_slot', at})
            return false, nil
          end
        end
      end
      if permits then redis.call('ZADD', permits, 0, id) end
      return true, permits
    end

    -- Writes the rate states kale_admit advanced, each kept a second past its last slot.
    local function kale_rates_flush(C)
      if not C.rates then return end
      for rk, r in pairs(C.rates) do
        redis.call('SET', rk, string.format('%.3f', r.tat), 'PX', math.ceil(r.tat - C.now + 1000))
      end
    end
    """# + "\n"
}
