import KaleRedis

extension Scripts {
    /// Records a failed run: started -> retrying (scheduled at `retry at`), dead, or cancelled.
    ///
    /// A task retries while its attempt number is at most `max_retries` and the failure is
    /// retryable (`retry at` >= 0); otherwise it goes to the dead set with its error.
    /// KEYS: 1 task record, 2 active set, 3 scheduled set, 4 dead set
    /// ARGV: 1 id, 2 worker id, 3 lease token, 4 now ms, 5 error JSON, 6 retry at ms (-1 = do not
    ///       retry), 7 mode (`fail` or `cancel`), 8 default result TTL ms, 9 dead max size,
    ///       10 dead max age ms, 11 task-key prefix, 12 done-channel prefix, 13 observation (see ``Broker/observation(_:)``),
    ///       14 attempt that failed (0: rejected before it started, no attempt spent), 15 started
    ///       at ms (written with the attempt: the start mark may arrive after this)
    ///       16-18 optional: the start of the runner's next task of this queue (id, lease token,
    ///       attempt; KEYS 5 its record), counted as ``Scripts/start`` does, in the same call
    ///       19… optional: pairs of (list, message) pushed (LPUSH) when the task goes dead: the
    ///       Celery errbacks of a bridged task (ARGV 16-18 are empty without a start)
    /// Returns: 0 lease lost, 1 retrying, 2 dead, 3 cancelled (now, or by an earlier try of this
    ///          call); with a start folded in, {that, the start's result}
    static let fail = RedisScript(name: "fail", source: LuaLibrary.source + #"""
    local C = {now = tonumber(ARGV[4]), ttl = tonumber(ARGV[8]), deadMax = tonumber(ARGV[9]),
      deadAge = tonumber(ARGV[10]), tp = ARGV[11], chan = ARGV[12], obs = ARGV[13], dead = KEYS[4]}
    local function record()
      local key, id = KEYS[1], ARGV[1]
      if not kale_release(C, KEYS[2], key, id, ARGV[2], ARGV[3]) then
        local ended = kale_ended_by(key, ARGV[2], ARGV[3])
        if ended == 'retrying' or ended == 'scheduled' then return 1 end
        if ended == 'dead' or ended == 'failed' then return 2 end
        if ended == 'cancelled' then return 3 end
        return 0
      end
      local attempt = tonumber(ARGV[14])
      if attempt > 0 then
        C.ran, C.lease = true, ARGV[3]
        redis.call('HSET', key, 'error', ARGV[5], 'attempt', attempt, 'started_at', ARGV[15])
      else
        redis.call('HSET', key, 'error', ARGV[5])
      end
      redis.call('HDEL', key, 'cancel')
      if ARGV[7] == 'cancel' then
        kale_finish(C, key, id, 'cancelled', nil, 'Cancelled')
        return 3
      end
      local retryAt = tonumber(ARGV[6])
      local maxRetries = tonumber(redis.call('HGET', key, 'max_retries') or '0') or 0
      if retryAt >= 0 and attempt <= maxRetries then
        redis.call('HSET', key, 'state', 'retrying')
        redis.call('ZADD', KEYS[3], retryAt, id)
        local cel = redis.call('HGET', key, 'cel')
        if cel then kale_celery_end(key, cel, 'retrying', C.now) end
        kale_note(C, key, id, 'retried', nil, kale_error_type(ARGV[5]))
        return 1
      end
      kale_dead(C, key, id, ARGV[5])
      kale_celery_forward(19)
      return 2
    end
    -- Told by its id, not by KEYS[5] (see the succeed script).
    local folded = ARGV[16] ~= nil and ARGV[16] ~= ''
    C.defer = folded
    local r = record()
    if folded then return {r, kale_start(C, KEYS[5], ARGV[16], ARGV[2], ARGV[17], ARGV[18], ARGV[4])} end
    return r
    """#)
}
