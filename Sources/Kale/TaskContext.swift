import Synchronization

/// What a running task knows about itself, and how it reports back.
///
/// Cancellation is cooperative: when the soft time limit passes or someone cancels the task,
/// ``isCancelled`` turns true and the Swift task running the handler is cancelled (so
/// `Task.sleep` and other cancellable awaits throw). A task that ignores it is killed at its
/// hard time limit when it runs in a child process.
public final class TaskContext: Sendable {
    /// Why a running task was asked to stop.
    public enum StopReason: String, Sendable {
        case softTimeLimit = "soft time limit"
        case cancelled = "cancel requested"
        case shutdown = "worker shutting down"
    }

    public let id: String
    public let name: String
    public let queue: String
    /// 1 on the first run, 2 on the first retry …
    public let attempt: Int
    public let maxRetries: Int
    public let headers: [String: String]
    /// When the soft time limit passes, if there is one.
    public let softDeadline: ContinuousClock.Instant?
    private let stop = Mutex<StopReason?>(nil)
    private let progressSink: @Sendable (Double, String?) async -> Void

    public init(
        id: String, name: String, queue: String, attempt: Int, maxRetries: Int, headers: [String: String],
        softDeadline: ContinuousClock.Instant?, progress: @escaping @Sendable (Double, String?) async -> Void
    ) {
        self.id = id
        self.name = name
        self.queue = queue
        self.attempt = attempt
        self.maxRetries = maxRetries
        self.headers = headers
        self.softDeadline = softDeadline
        self.progressSink = progress
    }

    /// True once the task has been asked to stop.
    public var isCancelled: Bool { stopReason != nil || Task.isCancelled }

    /// Why the task was asked to stop, if it was.
    public var stopReason: StopReason? { stop.withLock { $0 } }

    /// Whether this is the last attempt (a failure now goes to the dead set).
    public var isLastAttempt: Bool { attempt > maxRetries }

    /// Throws when the task has been asked to stop.
    ///
    /// - Throws: ``TaskFailure`` of kind `.softTimeLimit` or `.cancelled`.
    public func checkCancellation() throws {
        guard let reason = stopReason ?? (Task.isCancelled ? .cancelled : nil) else { return }
        throw TaskContext.failure(for: reason)
    }

    /// Reports how far the task has got (0…1) and what it is doing; readable by producers
    /// through ``KaleClient/status(of:queue:)`` while the task runs.
    public func reportProgress(_ fraction: Double, message: String? = nil) async {
        await progressSink(min(max(fraction, 0), 1), message)
    }

    /// Asks the task to stop; the first reason wins. Called by the runtime.
    public func requestStop(_ reason: StopReason) {
        stop.withLock { if $0 == nil { $0 = reason } }
    }

    /// The failure recorded when a task stops because of `reason`.
    public static func failure(for reason: StopReason) -> TaskFailure {
        switch reason {
        case .softTimeLimit:
            return TaskFailure(kind: .softTimeLimit, type: "SoftTimeLimitExceeded", message: "the soft time limit passed")
        case .cancelled:
            return TaskFailure(kind: .cancelled, type: "Cancelled", message: "the task was cancelled", retryable: false)
        case .shutdown:
            return TaskFailure(kind: .cancelled, type: "WorkerShutdown", message: "the worker shut down")
        }
    }
}
