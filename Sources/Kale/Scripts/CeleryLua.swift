/// Lua helpers that write the outcome of a task taken over from Celery in Celery's result
/// backend format, in the same script call that records it in Kale.
///
/// A bridged task's record holds `cel` = `"<expires s>\n<celery id>\n<result key>"` (set when the
/// message was taken over, absent with `ignore_result`). Every transition that ends a task goes
/// through `kale_finish` or `kale_dead`, which call ``source``'s `kale_celery` when `cel` is set,
/// so no path (a fetch finding it expired, a reap, a cancel) can end a bridged task without
/// Python's `AsyncResult.get()` hearing of it. See `docs/celery.md` and `../shared/CELERY.md` §3.
///
/// The result key lives in another Cluster slot than the record: the bridge is for a single
/// Redis (or Sentinel) deployment, as kombu's Redis transport itself is.
enum CeleryLua {
    static let source = #"""
    -- ISO-8601 UTC with microseconds, as Python's aware isoformat() writes it.
    local function kale_iso(ms)
      local s = math.floor(ms / 1000)
      local days, rem = math.floor(s / 86400), s % 86400
      local z = days + 719468
      local era = math.floor(z / 146097)
      local doe = z - era * 146097
      local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
      local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
      local mp = math.floor((5 * doy + 2) / 153)
      local d = doy - math.floor((153 * mp + 2) / 5) + 1
      local m = mp < 10 and mp + 3 or mp - 9
      local y = yoe + era * 400
      if m <= 2 then y = y + 1 end
      return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00', y, m, d,
        math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60, (ms % 1000) * 1000)
    end

    -- Celery's exception dict for a Kale error (JSON with kind, type, message).
    local function kale_celery_exc(err, name)
      local ok, e = pcall(cjson.decode, err or '')
      if not ok or type(e) ~= 'table' then e = {} end
      local typ, msg, mod = tostring(e.type or 'Error'), tostring(e.message or ''), cjson.null
      if typ == 'UnknownTask' then
        typ, msg, mod = 'NotRegistered', tostring(name or ''), 'celery.exceptions'
      elseif e.kind == 'time_limit' then
        typ, mod = 'TimeLimitExceeded', 'billiard.exceptions'
      elseif e.kind == 'soft_time_limit' then
        typ, mod = 'SoftTimeLimitExceeded', 'billiard.exceptions'
      elseif e.kind == 'cancelled' then
        typ, mod = 'TaskRevokedError', 'celery.exceptions'
      end
      return cjson.encode({exc_type = typ, exc_message = {msg}, exc_module = mod})
    end

    -- Stores result `meta` (JSON text) at `rkey` as Celery's backend does: never over a
    -- SUCCESS, with its expiry (s; 0: none), and published on the key's channel for waiting
    -- clients. Returns 1 written, 0 a SUCCESS was there.
    local function kale_celery_store(rkey, meta, ttl)
      local cur = redis.call('GET', rkey)
      if cur then
        local ok, m = pcall(cjson.decode, cur)
        if ok and type(m) == 'table' and m.status == 'SUCCESS' then return 0 end
      end
      if tonumber(ttl) > 0 then redis.call('SETEX', rkey, ttl, meta) else redis.call('SET', rkey, meta) end
      redis.call('PUBLISH', rkey, meta)
      return 1
    end

    -- Writes state `status` with `result` (JSON text) for a record whose `cel` field is `cel`.
    local function kale_celery(cel, status, result, now)
      local ttl, cid, rkey = string.match(cel, '^(%d+)\n([^\n]*)\n(.+)$')
      if not rkey then return end
      local done = 'null'
      if status ~= 'RETRY' then done = '"' .. kale_iso(now) .. '"' end
      kale_celery_store(rkey, '{"status": "' .. status .. '", "result": ' .. result ..
        ', "traceback": null, "children": [], "date_done": ' .. done .. ', "task_id": ' .. cjson.encode(cid) .. '}', ttl)
    end

    -- The Celery outcome of Kale state `state` for a record whose `cel` field is `cel`.
    local function kale_celery_end(key, cel, state, now)
      if state == 'succeeded' then
        kale_celery(cel, 'SUCCESS', redis.call('HGET', key, 'result') or 'null', now)
      elseif state == 'cancelled' then
        local f = redis.call('HMGET', key, 'error', 'name')
        kale_celery(cel, 'REVOKED', kale_celery_exc(f[1], f[2]), now)
      elseif state == 'expired' then
        kale_celery(cel, 'REVOKED', cjson.encode({exc_type = 'TaskRevokedError', exc_message = {'expired'},
          exc_module = 'celery.exceptions'}), now)
      elseif state == 'dead' then
        local f = redis.call('HMGET', key, 'error', 'name')
        kale_celery(cel, 'FAILURE', kale_celery_exc(f[1], f[2]), now)
      elseif state == 'retrying' then
        local f = redis.call('HMGET', key, 'error', 'name')
        kale_celery(cel, 'RETRY', kale_celery_exc(f[1], f[2]), now)
      end
    end

    -- LPUSHes the (list, message) pairs in ARGV from index `from` on: the Celery messages that
    -- follow a bridged task (link, chain, link_error), sent in the step that records its end.
    local function kale_celery_forward(from)
      local i = from
      while ARGV[i] and ARGV[i + 1] and ARGV[i] ~= '' do
        redis.call('LPUSH', ARGV[i], ARGV[i + 1])
        i = i + 2
      end
    end
    """# + "\n"
}
