import Foundation
public import Kale

/// One task handed to an executor, decoded and checked against the registry.
public struct Job: Sendable {
    public var leased: LeasedTask
    public var envelope: Envelope
    /// The effective limits (task's own, else the worker's).
    public var softTimeLimit: Duration?
    public var timeLimit: Duration?
    /// W3C trace headers of the run's span, under which the runner continues the trace;
    /// empty when tracing is off.
    public var trace: [String: String] = [:]
}

/// How a run ended.
public enum Outcome: Sendable {
    /// The result as JSON text: passed from the child to Redis without being parsed again.
    case succeeded([UInt8])
    case failed(TaskFailure)
    /// The task never reached its runner (e.g. the child died just before it was sent): it is
    /// given back to its queue without spending an attempt.
    case notStarted(String)
}

/// Runs jobs: in this process (``InlineExecutor``) or in a pool of children (``ProcessPool``).
protocol Executor: Sendable {
    /// Starts whatever the executor needs (children).
    func start() async throws
    /// Runs one job to its end. At most `concurrency` calls are in flight at once.
    /// `progress` is called in the order the task reported, on the reporter's thread; it
    /// must return at once.
    func run(_ job: Job, progress: @escaping @Sendable (Double, String?) -> Void) async -> Outcome
    /// Asks the run of lease `taskID` (a ``LeasedTask/key``) to stop; it is killed after the stop grace if it will not.
    /// Returns whether it runs that task (a stop for a task not yet handed to a runner is lost).
    @discardableResult
    func stop(taskID: String, reason: TaskContext.StopReason) async -> Bool
    /// Kills every running task now (cold shutdown) and stops the executor.
    func terminate() async
    /// Stops the executor once nothing runs (warm shutdown, after the tasks ended).
    func close() async
    /// A snapshot for the worker's heartbeat and metrics: its children and their memory.
    func describe() async -> PoolSnapshot
    /// The ends of child processes; nil for a pool without children.
    var exits: ChildExits? { get }
}

/// What an executor's runners are doing, for the registry and metrics.
struct PoolSnapshot: Sendable {
    struct Child: Sendable {
        var slot: Int
        var pid: Int32
        var rssBytes: Int
        var startedAt: Date
        /// The task it runs now.
        var taskID: String?
        var tasksRun: Int
    }

    var children: [Child] = []
    /// Runners with a task now (children, or inline runs).
    var busy = 0
    var capacity = 0
}
