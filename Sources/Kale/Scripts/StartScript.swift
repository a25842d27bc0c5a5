import KaleRedis

extension Scripts {
    /// Counts an attempt when a runner takes a leased task: the run of attempt N begins.
    ///
    /// An attempt is spent by a start, never by a lease (a prefetched task that is given back
    /// or reaped without running keeps its attempts). Recorded before the task runs, so a task
    /// that kills its whole worker still counts each start and ends dead after
    /// `max_retries + 1` of them. `run` remembers which lease started, so the reaper can tell
    /// a lost run (an attempt spent) from a lost prefetch (none).
    /// Usually folded into the outcome of the runner's previous task (``Scripts/succeed`` and
    /// ``Scripts/fail`` take the next start along): one script call per task.
    /// KEYS: 1 task record
    /// ARGV: 1 id, 2 worker id, 3 lease token, 4 attempt, 5 now ms, 6 observation (see
    ///       ``Broker/observation(_:)``)
    /// Returns: 1 started, 2 started but a cancel is requested, 0 lease lost
    static let start = RedisScript(name: "start", source: LuaLibrary.source + #"""
    local C = {now = tonumber(ARGV[5]), obs = ARGV[6]}
    return kale_start(C, KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
    """#)
}
