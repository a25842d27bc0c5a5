import KaleRedis

/// A schedule and what its firing state says: when it fired last, when it fires next, and
/// how many attempts to fire a tick twice were turned away.
public struct ScheduleStatus: Sendable, Hashable {
    public var definition: ScheduleDefinition
    /// The last tick recorded (fired or skipped), ms since 1970.
    public var lastTick: Int64?
    /// The task of the last tick fired.
    public var lastTaskID: String?
    /// When the last tick was fired (ms): its lateness is this minus ``lastTick``.
    public var lastFiredAt: Int64?
    /// Ticks fired.
    public var fired: Int
    /// Attempts to fire a tick that was fired already, refused.
    public var refusedDuplicates: Int
    /// Attempts by a leader whose lease had passed to a successor, refused.
    public var refusedStaleLeader: Int
    /// Times missed ticks were passed over without a task (the schedule does not catch up):
    /// once per outage, which records only the newest of its missed ticks.
    public var skipped: Int
    /// The next tick, ms since 1970; nil when paused or when the timing has none.
    public var nextFire: Int64?

    init(definition: ScheduleDefinition, state r: [RedisReply], now: Int64) {
        func int(_ i: Int) -> Int64? { r.count > i ? r[i].string.flatMap { Int64($0) } : nil }
        self.definition = definition
        lastTick = int(0)
        lastTaskID = r.count > 1 ? r[1].string : nil
        lastFiredAt = int(2)
        fired = Int(int(3) ?? 0)
        refusedDuplicates = Int(int(4) ?? 0)
        refusedStaleLeader = Int(int(5) ?? 0)
        skipped = Int(int(6) ?? 0)
        nextFire = definition.paused ? nil : definition.timing.nextFire(after: max(now, lastTick ?? 0, definition.since))
    }
}
