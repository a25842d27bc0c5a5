import Synchronization

/// Which queues someone watches (``Keys/eventWatch(_:)``), as this process last saw it: the
/// frequent events (`enqueued`, `started`, `succeeded`, `deferred`) are written only then, unless
/// ``KaleConfiguration/recordAllEvents``.
///
/// Each process asks Redis now and then (a worker every 2 s from its reaper, a producer with
/// an enqueue at most every 5 s) and tells its scripts through the observation argument, so
/// no transition pays a read of the mark. A watch begins to show within those seconds.
public final class EventWatch: Sendable {
    private let seen = Mutex<[String: (watched: Bool, at: Int64)]>([:])

    public init() {}

    /// Whether `queue` was watched when last asked.
    public func isWatched(_ queue: String) -> Bool { seen.withLock { $0[queue]?.watched ?? false } }

    /// Whether this process asked about `queue` at all.
    public func isKnown(_ queue: String) -> Bool { seen.withLock { $0[queue] != nil } }

    /// Whether the answer for `queue` is older than `maxAge` ms at `now` (or missing).
    public func isStale(_ queue: String, now: Int64, maxAge: Int64) -> Bool {
        seen.withLock { s in s[queue].map { !(0..<maxAge).contains(now - $0.at) } ?? true }
    }

    public func record(_ queue: String, watched: Bool, at now: Int64) {
        seen.withLock { $0[queue] = (watched, now) }
    }
}
