import Foundation
import Glibc
import Kale
import KaleCelery
import KaleRedis
import Logging
import Synchronization

/// A supervised pool of persistent child processes, one task at a time each.
///
/// The pool enforces the limits from outside the child, where a runaway task cannot
/// interfere: the soft limit (a stop request, then SIGKILL after the stop grace), the hard
/// limit (SIGKILL), the memory ceiling (RSS sampled while running and checked after each
/// task) and max tasks per child (recycle). A dead child is replaced at once.
final class ProcessPool: Executor {
    private struct Slot {
        var child: ChildProcess?
        var busy = false
        var tasksRun = 0
    }

    private let configuration: WorkerConfiguration
    /// Whether the records' own messages are kale/1, what children read: then a message goes to
    /// its child as stored, and only others (a task taken over from Celery) are converted.
    private let storesKaleJSON: Bool
    private let logger: Logger
    private let slots: Mutex<[Slot]>
    private let childExits = ChildExits()
    var exits: ChildExits? { childExits }
    private let metrics: WorkerMetrics
    /// Set by ``terminate()``: no run may start after it (see `run`).
    private let terminated = Atomic<Bool>(false)

    init(configuration: WorkerConfiguration, format: any MessageFormat, metrics: WorkerMetrics, logger: Logger) {
        self.metrics = metrics
        self.configuration = configuration
        storesKaleJSON = format is KaleJSONFormat || (format as? CeleryBridgeFormat)?.wrapsKaleJSON == true
        self.logger = logger
        slots = Mutex(Array(repeating: Slot(), count: configuration.concurrency))
    }

    func start() async throws {
        for index in 0..<configuration.concurrency {
            let child = try spawn()
            guard await child.waitUntilReady(timeout: .seconds(30)) else {
                child.kill(cause: TaskFailure(kind: .crashed, type: "ChildStart", message: "did not start"))
                throw KaleError(.invalidOptions, detail: "child process \(child.pid) of '\(configuration.childExecutable)' did not start (see its output above)")
            }
            slots.withLock { $0[index].child = child }
        }
    }

    private func spawn() throws -> ChildProcess {
        let child = try ChildProcess.spawn(executable: configuration.childExecutable, arguments: configuration.childArguments,
                                           environment: configuration.childEnvironment, memoryLimit: configuration.maxMemoryPerChild)
        logger.debug("child started", metadata: ["child.pid": "\(child.pid)"])
        return child
    }

    func run(_ job: Job, progress: @escaping @Sendable (Double, String?) -> Void) async -> Outcome {
        let (index, stopping) = slots.withLock { s -> (Int, Bool) in
            // Runners never exceed the slot count, so a free slot always exists.
            let i = s.firstIndex { !$0.busy }!
            s[i].busy = true
            // Read under the lock that terminate() takes after setting the flag: either this
            // run sees the flag, or terminate() sees this slot busy and kills its child.
            return (i, terminated.load(ordering: .sequentiallyConsistent))
        }
        defer { slots.withLock { $0[index].busy = false } }
        if stopping { return .notStarted("the worker is stopping") }
        let child: ChildProcess
        do { child = try liveChild(index, taskID: job.leased.id) }
        catch { return .failed(TaskFailure(kind: .crashed, type: "ChildStart", message: "cannot start a child process: \(error)")) }

        // Children speak kale/1; a message in another format is converted here, once. A task
        // taken over from Celery always is: its input was mapped by the supervisor.
        let message = storesKaleJSON && job.envelope.celery == nil
            ? job.leased.message : ((try? KaleJSONFormat().encode(job.envelope)) ?? [])
        var payload = Frame.int64(Int64(job.leased.attempt)) + Frame.int64(job.softTimeLimit?.milliseconds ?? -1)
        // The run span's trace context, for the child to continue the trace: "traceparent\ntracestate".
        let trace = job.trace.isEmpty ? [] : Array("\(job.trace["traceparent"] ?? "")\n\(job.trace["tracestate"] ?? "")".utf8)
        payload += Frame.int64(Int64(trace.count)) + trace
        payload.append(contentsOf: message)
        let monitor = watch(child, job)
        let outcome = await child.run(Frame(.run, payload), taskID: job.leased.key, progress: progress)
        monitor?.cancel()
        await afterTask(index, child, taskID: job.leased.id)
        return outcome
    }

    /// The slot's child, replaced first if it died while idle.
    private func liveChild(_ index: Int, taskID: String) throws -> ChildProcess {
        let old = slots.withLock { $0[index].child }
        if let old, old.isAlive { return old }
        if let old { noteExit(index, old, cause: .idle, taskID: nil) }
        let c = try spawn()
        slots.withLock { $0[index] = Slot(child: c, busy: true, tasksRun: 0) }
        return c
    }

    /// Replaces a dead child at once, and recycles one past its task or memory budget.
    private func afterTask(_ index: Int, _ child: ChildProcess, taskID: String) async {
        let runs = slots.withLock { s -> Int in
            s[index].tasksRun += 1
            return s[index].tasksRun
        }
        var reason: String?
        if !child.isAlive {
            reason = "died"
            noteExit(index, child, cause: ChildExits.cause(of: child.deathFailure), taskID: taskID)
        } else if let max = configuration.maxTasksPerChild, runs >= max {
            reason = "reached \(max) tasks"
            noteExit(index, child, cause: .maxTasks, taskID: nil)
        } else if let ceiling = configuration.maxMemoryPerChild, child.residentBytes > ceiling {
            reason = "uses \(child.residentBytes >> 20) MiB, over the ceiling of \(ceiling >> 20) MiB"
            noteExit(index, child, cause: .memory, taskID: nil)
        }
        guard let reason else { return }
        if child.isAlive {
            logger.info("recycling child", metadata: ["child.pid": "\(child.pid)", "reason": "\(reason)"])
            await child.retire()
        } else {
            logger.warning("child died; replacing it", metadata: ["child.pid": "\(child.pid)"])
        }
        do {
            let fresh = try spawn()
            slots.withLock { $0[index].child = fresh; $0[index].tasksRun = 0 }
        } catch {
            logger.error("cannot replace child", metadata: ["error": "\(error)"])
            slots.withLock { $0[index].child = nil }
        }
    }

    /// Enforces the limits of one run from outside the child; nil when there are none.
    ///
    /// The memory ceiling is sampled here as well as enforced by the child on its own
    /// allocations (``ChildRuntime``): the child's limit counts committed memory, sampling
    /// counts what is resident (shared and file-backed pages too), and it still applies
    /// where the child could not set its limit.
    private func watch(_ child: ChildProcess, _ job: Job) -> Task<Void, Never>? {
        let soft = job.softTimeLimit
        let hard = job.timeLimit
        let ceiling = configuration.maxMemoryPerChild
        guard soft != nil || hard != nil || ceiling != nil else { return nil }
        let stopGrace = configuration.stopGrace
        // Unstructured: it must end when the run ends (cancelled by the caller), not block it.
        return Task {
            let start = ContinuousClock.now
            var asked = false
            while !Task.isCancelled {
                let elapsed = ContinuousClock.now - start
                if let hard, elapsed >= hard {
                    child.kill(cause: TaskFailure(kind: .timeLimit, type: "TimeLimitExceeded",
                                                  message: "killed after the hard time limit of \(hard)"))
                    return
                }
                if let soft {
                    if !asked, elapsed >= soft {
                        child.requestStop(.softTimeLimit)
                        asked = true
                    } else if asked, elapsed >= soft + stopGrace {
                        child.kill(cause: TaskFailure(kind: .softTimeLimit, type: "SoftTimeLimitExceeded",
                                                      message: "ignored the soft time limit of \(soft) and was killed \(stopGrace) later"))
                        return
                    }
                }
                if let ceiling {
                    let rss = child.residentBytes
                    if rss > ceiling {
                        child.kill(cause: TaskFailure(kind: .memoryLimit, type: "MemoryLimitExceeded",
                                                      message: "killed at \(rss >> 20) MiB resident, over the ceiling of \(ceiling >> 20) MiB"))
                        return
                    }
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    @discardableResult
    func stop(taskID: String, reason: TaskContext.StopReason) async -> Bool {
        guard let child = slots.withLock({ s in s.compactMap(\.child).first { $0.currentTask == taskID } }) else { return false }
        child.requestStop(reason)
        let grace = configuration.stopGrace
        // Unstructured: the caller (a cancel listener) must not wait for the grace period.
        Task {
            try? await Task.sleep(for: grace)
            if child.currentTask == taskID {
                child.kill(cause: reason == .cancelled
                    ? TaskFailure(kind: .cancelled, type: "Cancelled", message: "killed \(grace) after a cancel request", retryable: false)
                    : TaskContext.failure(for: reason))
            }
        }
        return true
    }

    func terminate() async {
        terminated.store(true, ordering: .sequentiallyConsistent)
        // Busy slots, not just children with a current task: a run may be between taking its
        // slot and sending its frame.
        for child in slots.withLock({ s in s.filter(\.busy).compactMap(\.child) }) {
            child.kill(cause: TaskContext.failure(for: .shutdown))
        }
    }

    func close() async {
        for child in slots.withLock({ s -> [ChildProcess] in
            let c = s.compactMap(\.child)
            for i in s.indices { s[i].child = nil }
            return c
        }) {
            await child.retire()
        }
    }

    private func noteExit(_ slot: Int, _ child: ChildProcess, cause: ChildExits.Cause, taskID: String?) {
        childExits.record(.init(slot: slot, pid: child.pid, cause: cause, taskID: taskID, at: Date()))
        metrics.childRestarted(cause: cause.rawValue)
    }

    func describe() async -> PoolSnapshot {
        let slots = slots.withLock { $0 }
        var snapshot = PoolSnapshot(capacity: slots.count)
        for (i, slot) in slots.enumerated() {
            if slot.busy { snapshot.busy += 1 }
            guard let child = slot.child else { continue }
            // The current task is a lease key: show the task's id.
            snapshot.children.append(.init(slot: i, pid: child.pid, rssBytes: child.residentBytes, startedAt: child.startedAt,
                                           taskID: child.currentTask.map { String(LeasedTask.taskID(inKey: $0)) }, tasksRun: slot.tasksRun))
        }
        return snapshot
    }
}
