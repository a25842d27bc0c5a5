import KaleRedis

extension Scripts {
    /// Records a result and ends the lease in one step: started -> succeeded.
    ///
    /// Refused (returns 0) when the caller no longer holds the lease: the lease expired and
    /// the task was handed to someone else, whose run counts instead.
    /// KEYS: 1 task record, 2 active set
    /// ARGV: 1 id, 2 worker id, 3 lease token, 4 now ms, 5 result JSON, 6 default result TTL ms,
    ///       7 done-channel prefix, 8 observation (see ``Broker/observation(_:)``), 9 attempt (written again: the start mark
    ///       is sent without waiting, and may arrive after this), 10 started at ms (likewise)
    ///       11-13 optional: the start of the runner's next task of this queue (id, lease token,
    ///       attempt; KEYS 3 its record), counted as ``Scripts/start`` does, in the same call
    ///       14 optional: the result's signature (a workflow step's, for the step it feeds), kept as
    ///       `result_sig`; 15… optional: pairs of (list, message) pushed (LPUSH) when the result is
    ///       recorded: the Celery messages that follow a bridged task (ARGV 11-14 are empty when
    ///       not given)
    /// Returns: 1 recorded (now, or by an earlier try of this call), 0 lease lost; with a start
    ///          folded in, {that, the start's result}
    static let succeed = RedisScript(name: "succeed", source: LuaLibrary.source + #"""
    local C = {now = tonumber(ARGV[4]), ttl = tonumber(ARGV[6]), chan = ARGV[7], obs = ARGV[8], ran = true, lease = ARGV[3]}
    local function record()
      local key, id = KEYS[1], ARGV[1]
      if not kale_release(C, KEYS[2], key, id, ARGV[2], ARGV[3]) then
        if kale_ended_by(key, ARGV[2], ARGV[3]) == 'succeeded' then return 1 end
        return 0
      end
      local fields = {'result', ARGV[5], 'attempt', ARGV[9], 'started_at', ARGV[10]}
      if ARGV[14] and ARGV[14] ~= '' then fields[7], fields[8] = 'result_sig', ARGV[14] end
      kale_finish(C, key, id, 'succeeded', fields)
      kale_celery_forward(15)
      return 1
    end
    -- A folded start is told by its id, never by KEYS[3]: on a cluster KEYS ends with the
    -- slot's guard (ClusterSlotGuard), which would stand there when none is folded.
    local folded = ARGV[11] ~= nil and ARGV[11] ~= ''
    C.defer = folded
    local r = record()
    if folded then return {r, kale_start(C, KEYS[3], ARGV[11], ARGV[2], ARGV[12], ARGV[13], ARGV[4])} end
    return r
    """#)
}
