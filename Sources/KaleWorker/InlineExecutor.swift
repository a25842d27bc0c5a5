import Kale
import Synchronization

/// Runs tasks inside the worker's own process.
///
/// For tests and light I/O tasks only: a crash here takes the whole worker down, and a task
/// that ignores its hard time limit cannot be killed, only abandoned (it is recorded as
/// failed and its Swift task cancelled; the thread it holds is not recovered).
final class InlineExecutor: Executor {
    private let registry: TaskRegistry
    private let running = Mutex<[String: HandlerRun]>([:])

    private let capacity: Int

    init(registry: TaskRegistry, capacity: Int) {
        self.registry = registry
        self.capacity = capacity
    }

    func start() async throws {}

    func run(_ job: Job, progress: @escaping @Sendable (Double, String?) -> Void) async -> Outcome {
        guard let handler = registry.handler(named: job.envelope.name) else {
            return .failed(.rejected("unknown task '\(job.envelope.name)'", type: "UnknownTask"))
        }
        let run = HandlerRun(handler: handler, envelope: job.envelope, attempt: job.leased.attempt,
                             softTimeLimit: job.softTimeLimit, trace: job.trace, progress: progress)
        running.withLock { $0[job.leased.key] = run }
        defer { _ = running.withLock { $0.removeValue(forKey: job.leased.key) } }
        guard let limit = job.timeLimit else { return await run.outcome() }
        // Not a task group: a group waits for all its children, and a handler that ignores
        // cancellation would hold the worker past its hard limit.
        return await withCheckedContinuation { (c: CheckedContinuation<Outcome, Never>) in
            let once = ResumeOnce(c)
            let timer = Task {
                try? await Task.sleep(for: limit)
                guard !Task.isCancelled else { return }
                run.stop(.softTimeLimit)
                once.resume(.failed(TaskFailure(
                    kind: .timeLimit, type: "TimeLimitExceeded",
                    message: "the hard time limit of \(limit) passed (inline pool: the task was abandoned, not killed)")))
            }
            Task {
                let outcome = await run.outcome()
                timer.cancel()
                once.resume(outcome)
            }
        }
    }

    @discardableResult
    func stop(taskID: String, reason: TaskContext.StopReason) async -> Bool {
        guard let run = running.withLock({ $0[taskID] }) else { return false }
        run.stop(reason)
        return true
    }

    func terminate() async {
        for run in running.withLock({ Array($0.values) }) { run.stop(.shutdown) }
    }

    func close() async {}

    func describe() async -> PoolSnapshot {
        PoolSnapshot(children: [], busy: running.withLock { $0.count }, capacity: capacity)
    }

    var exits: ChildExits? { nil }
}

/// A continuation that the first of several racers resumes; later calls do nothing.
final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, Never>?>

    init(_ continuation: CheckedContinuation<T, Never>) { self.continuation = Mutex(continuation) }

    func resume(_ value: T) {
        continuation.withLock { $0.take() }?.resume(returning: value)
    }
}
