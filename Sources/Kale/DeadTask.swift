public import Foundation

/// One entry of a queue's dead set, with what its record says about why it died.
public struct DeadTask: Sendable, Hashable {
    public var id: String
    public var queue: String
    /// The task name; empty when the record is gone or was never a task (see ``error``).
    public var name: String
    /// When it entered the dead set (its score).
    public var diedAt: Date
    /// Runs it had.
    public var attempts: Int
    /// The failure recorded last; nil when the record has none.
    public var error: TaskFailure?

    public init(id: String, queue: String, name: String, diedAt: Date, attempts: Int, error: TaskFailure?) {
        self.id = id
        self.queue = queue
        self.name = name
        self.diedAt = diedAt
        self.attempts = attempts
        self.error = error
    }
}
