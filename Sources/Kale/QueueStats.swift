/// A snapshot of one queue: how many tasks wait, run or died, and how many ended recently.
public struct QueueStats: Sendable, Hashable {
    /// The kinds of per-10-second counters the scripts keep (see ``Keys/statsPrefix(_:)``).
    public static let counterKinds = ["succeeded", "dead", "failed", "retried", "reaped", "cancelled", "expired"]
    /// The length of one counter bucket.
    public static let bucket: Duration = .seconds(10)

    public var queue: String
    /// Tasks waiting to be fetched, per priority.
    public var pending: [Priority: Int]
    /// Delayed tasks and tasks waiting for a retry.
    public var scheduled: Int
    /// Tasks leased by a worker right now.
    public var active: Int
    /// Tasks in the dead set.
    public var dead: Int
    /// Counter totals over ``window``, by kind (every kind of ``counterKinds`` is present).
    public var recent: [String: Int]
    /// The span ``recent`` covers: whole buckets, the current (partial) one included.
    public var window: Duration
    /// Since when the queue is paused (ms since 1970), nil when it is not
    /// (``KaleClient/pause(queue:)``).
    public var pausedAt: Int64?
    /// Whether workers lease nothing from the queue.
    public var isPaused: Bool { pausedAt != nil }

    public init(queue: String, pending: [Priority: Int], scheduled: Int, active: Int, dead: Int,
                recent: [String: Int], window: Duration, pausedAt: Int64? = nil) {
        self.pausedAt = pausedAt
        self.queue = queue
        self.pending = pending
        self.scheduled = scheduled
        self.active = active
        self.dead = dead
        self.recent = recent
        self.window = window
    }

    /// Pending tasks of every priority.
    public var pendingTotal: Int { pending.values.reduce(0, +) }
    /// Tasks that succeeded within ``window``.
    public var succeededRecently: Int { recent["succeeded"] ?? 0 }
    /// Tasks that ended for good without succeeding within ``window`` (dead or failed).
    public var failedRecently: Int { (recent["dead"] ?? 0) + (recent["failed"] ?? 0) }
}
