import KaleRedis

extension Scripts {
    /// Takes Celery messages over from kombu's lists of one queue: each becomes a Kale task
    /// record (keeping the Celery id) in the queue's pending list, or in its scheduled set for an
    /// `eta`, in the same step that removes it from kombu's list. From then on Kale's leases,
    /// retries and crash recovery apply; kombu's `unacked` hash is never used.
    ///
    /// The intake list holds messages a blocking `BLMOVE` took from kombu's first bucket while
    /// the worker waited (it is Kale's, and durable: a worker that dies after the move leaves them
    /// there for the next call by any worker). It is read first, then the buckets, highest
    /// priority (0) first.
    ///
    /// Only the envelope is read here (id, task, eta, expires, priority, retries); the body is
    /// decoded by the worker, where a bad body is rejected like any bad message. A message that
    /// cannot be read at all goes to the dead set under an id derived from its bytes; one with a
    /// Celery id but a bad envelope also gets a FAILURE result, so the caller's `get()` raises.
    /// KEYS: 1 intake list, 2-4 pending lists (high, normal, low), 5 scheduled set, 6 notify
    ///       list, 7 dead set, 8… kombu's lists, highest priority first (one per priority step)
    /// ARGV: 1 now ms (0: Redis' clock), 2 most messages to take, 3 task-key prefix, 4 done-channel prefix,
    ///       5 observation (see ``Broker/observation(_:)``), 6 dead max size, 7 dead max age ms, 8 default result TTL ms,
    ///       9 Celery result-key prefix (`celery-task-meta-`), 10 Celery result expiry s (0: none),
    ///       11 max message bytes, 12 retries allowed after the first run, 13… the priority step of
    ///       each of kombu's lists (0-9), in the order of KEYS 8…
    /// Returns: {taken, of which scheduled, of which rejected or ended at once}
    static let celeryIntake = RedisScript(name: "celery-intake", source: LuaLibrary.source + #"""
    local C = {now = tonumber(ARGV[1]), tp = ARGV[3], chan = ARGV[4], obs = ARGV[5], dead = KEYS[7],
      deadMax = tonumber(ARGV[6]), deadAge = tonumber(ARGV[7]), ttl = tonumber(ARGV[8])}
    if C.now == 0 then
      -- Sent behind a blocking move: the caller's clock would be stale by the time this runs.
      local t = redis.call('TIME')
      C.now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    local pending = {KEYS[2], KEYS[3], KEYS[4]}
    local maxSize = tonumber(ARGV[11])

    -- ISO-8601 (with or without fraction and zone; no zone means UTC) to ms; nil if unreadable.
    local function iso_ms(s)
      local y, mo, d, rest = string.match(s, '^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$')
      if not y then return nil end
      local h, mi, sec, frac, zone = 0, 0, 0, nil, ''
      if rest ~= '' then
        local hh, mm, tail = string.match(rest, '^[T ](%d%d):(%d%d)(.*)$')
        if not hh then return nil end
        h, mi = tonumber(hh), tonumber(mm)
        local ss, t2 = string.match(tail, '^:(%d%d)(.*)$')
        if ss then sec, tail = tonumber(ss), t2 end
        local f, t3 = string.match(tail, '^[%.,](%d+)(.*)$')
        if f then frac, tail = f, t3 end
        zone = tail
      end
      local offset = 0
      if zone ~= '' and zone ~= 'Z' and zone ~= 'z' then
        local sign, zh, zm = string.match(zone, '^([%+%-])(%d%d):?(%d%d)$')
        if not sign then return nil end
        offset = (tonumber(zh) * 60 + tonumber(zm)) * 60000
        if sign == '-' then offset = -offset end
      end
      y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
      if mo <= 2 then y = y - 1 end
      local era = math.floor(y / 400)
      local yoe = y - era * 400
      local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + d - 1
      local days = era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
      local ms = ((days * 24 + h) * 60 + mi) * 60000 + sec * 1000
      if frac then ms = ms + math.floor(tonumber('0.' .. frac) * 1000) end
      return ms - offset
    end

    -- Protocol 1 keeps task and id in the body; decoded only to name the task in its failure.
    local function unbase64(s)
      local alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
      local map = {}
      for i = 1, 64 do map[string.byte(alphabet, i)] = i - 1 end
      local out, bits, n = {}, 0, 0
      for i = 1, #s do
        local v = map[string.byte(s, i)]
        if v then
          bits, n = bits * 64 + v, n + 6
          if n >= 8 then
            n = n - 8
            local c = math.floor(bits / 2 ^ n)
            out[#out + 1] = string.char(c)
            bits = bits - c * 2 ^ n
          end
        end
      end
      return table.concat(out)
    end

    local function valid_id(id)
      return type(id) == 'string' and #id > 0 and #id <= 200 and not string.find(id, '[%z\1-\32\127{}]')
    end

    local function live(state)
      return state == 'pending' or state == 'scheduled' or state == 'retrying' or state == 'started'
    end

    local taken, scheduled, ended = 0, 0, 0

    local function take(raw, bucket)
      taken = taken + 1
      local derived = 'celery-invalid-' .. redis.sha1hex(raw)
      local function reject(id, cel, why, typ, name)
        local key = C.tp .. id
        redis.call('HSET', key, 'msg', raw, 'state', 'pending', 'max_retries', 0, 'enqueued_at', C.now,
          'name', name or '?')
        if cel then redis.call('HSET', key, 'cel', cel) end
        kale_dead(C, key, id, kale_error('rejected', typ or 'MalformedMessage', why, false))
        ended = ended + 1
      end
      local ok, env = pcall(cjson.decode, raw)
      if not ok or type(env) ~= 'table' then return reject(derived, nil, 'not a JSON object (kombu envelope expected)') end
      local h, p = env.headers, env.properties
      if type(h) ~= 'table' then h = {} end
      if type(p) ~= 'table' then p = {} end
      local cid, name, problem = h.id, h.task, nil
      if type(name) ~= 'string' then
        local okb, body = pcall(cjson.decode, unbase64(tostring(env.body or '')))
        if okb and type(body) == 'table' and type(body.task) == 'string' then
          cid, name = body.id, body.task
          problem = 'Celery protocol 1 message (task ' .. name .. '): send protocol 2, the default since Celery 4'
        else
          problem = 'no task header: not a Celery protocol 2 message'
        end
      end
      -- An id with a line feed could not be told apart inside 'cel': no result for it.
      if type(cid) ~= 'string' or cid == '' or string.find(cid, '\n', 1, true) then cid = nil end
      local cel = nil
      if cid and h.ignore_result ~= true then cel = ARGV[10] .. '\n' .. cid .. '\n' .. ARGV[9] .. cid end
      local id = cid
      if not valid_id(id) then
        id = derived
        problem = problem or ('task id ' .. tostring(h.id) .. ' cannot be a Kale task id')
      end
      if #raw > maxSize then
        -- Kept (the bytes are the caller's) and answered under the caller's id, so its get()
        -- raises instead of waiting: a message too large to run is still not dropped.
        return reject(id, cel, 'Celery message of ' .. #raw .. ' bytes exceeds the limit of ' .. maxSize .. ' bytes',
          'PayloadTooLarge', type(name) == 'string' and name or nil)
      end
      local key = C.tp .. id
      local state = redis.call('HGET', key, 'state')
      if state and live(state) then
        -- The same id again while the first is queued or running: the first one's result
        -- answers the caller, so this copy is kept in the dead set, not run twice.
        id = id .. '-dup-' .. string.sub(redis.sha1hex(raw), 1, 12)
        return reject(id, nil, 'task id ' .. tostring(cid) .. ' is already queued or running')
      elseif state then
        -- An ended task sent again (a manual re-send keeps its id): run it again, as Celery would.
        redis.call('ZREM', C.dead, id)
        redis.call('DEL', key)
      end
      if not problem and type(p.delivery_info) ~= 'table' then problem = 'no properties.delivery_info' end
      local ctype = env['content-type']
      if not problem and ctype ~= nil and ctype ~= 'application/json' then
        problem = 'content type ' .. tostring(ctype) .. ' is not supported: Kale reads JSON, Celery\'s default serializer'
      end
      local due, expires = 0, 0
      if not problem and type(h.eta) == 'string' then
        due = iso_ms(h.eta)
        if not due then problem = 'eta ' .. h.eta .. ' is not an ISO-8601 time' end
      end
      if not problem and type(h.expires) == 'string' then
        expires = iso_ms(h.expires)
        if not expires then problem = 'expires ' .. h.expires .. ' is not an ISO-8601 time' end
      end
      if problem then return reject(id, cel, problem, nil, type(name) == 'string' and name or nil) end
      -- kombu's priority (0 the highest) into Kale's three: 0-2 high, 3-5 normal, 6-9 low.
      local step = bucket
      if type(p.priority) == 'number' then step = p.priority end
      local prio = 2
      if step <= 2 then prio = 0 elseif step <= 5 then prio = 1 end
      local retries = math.max(math.floor(tonumber(h.retries) or 0), 0)
      -- Runs spent before (a message re-sent by Celery's retry) do not eat this budget.
      redis.call('HSET', key, 'msg', raw, 'state', 'pending', 'prio', prio, 'max_retries', tonumber(ARGV[12]) + retries,
        'enqueued_at', C.now, 'ttl', C.ttl, 'name', name)
      if retries > 0 then redis.call('HSET', key, 'attempt', retries) end
      if cel then redis.call('HSET', key, 'cel', cel) end
      kale_enqueued(C, id, name, 1)
      if expires > 0 then
        redis.call('HSET', key, 'expires_at', expires)
        if expires <= C.now then
          kale_finish(C, key, id, 'expired')
          ended = ended + 1
          return
        end
      end
      if due > C.now then
        redis.call('HSET', key, 'state', 'scheduled')
        redis.call('ZADD', KEYS[5], due, id)
        scheduled = scheduled + 1
      else
        kale_push(pending, KEYS[6], prio, id, false)
      end
    end

    local want = tonumber(ARGV[2])
    while taken < want do
      local raw = redis.call('RPOP', KEYS[1])
      if not raw then break end
      take(raw, tonumber(ARGV[13]) or 0)
    end
    -- Counted by ARGV (one step per list), never by #KEYS: on a cluster KEYS ends with the
    -- slot's guard (ClusterSlotGuard).
    for b = 8, #ARGV - 5 do
      while taken < want do
        local raw = redis.call('RPOP', KEYS[b])
        if not raw then break end
        take(raw, tonumber(ARGV[b + 5]) or 0)
      end
    end
    return {taken, scheduled, ended}
    """#)
}
