/// Where a task is in its life. A task is in exactly one state, and in the one Redis
/// structure that state implies.
public enum TaskState: String, Sendable, Codable, CaseIterable {
    /// Waiting in its queue's pending list.
    case pending
    /// Waiting for its delay or ETA in the scheduled set.
    case scheduled
    /// Leased by a worker and running.
    case started
    /// Finished; its result is kept for the result TTL.
    case succeeded
    /// Failed on its last attempt and no longer in the dead set (trimmed by size or age).
    case failed
    /// Failed, and waiting in the scheduled set for its next attempt.
    case retrying
    /// Cancelled before or while it ran; never retried.
    case cancelled
    /// Reached its expiry before it started; never run.
    case expired
    /// In the dead set: failed on its last attempt, or rejected as bad input.
    case dead

    /// True for states a task never leaves by itself.
    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled, .expired, .dead: return true
        case .pending, .scheduled, .started, .retrying: return false
        }
    }
}
