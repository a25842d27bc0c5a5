import Kale
import Metrics
import Synchronization

/// The swift-metrics instruments of a worker; the process picks the backend (Prometheus with
/// `kale worker --metrics-port`, or whatever an embedding app bootstrapped).
///
/// Label values are bounded so a scrape stays small whatever runs: `task` is a registered
/// name or `(unknown)`, `queue` one this worker serves, `cause` one of a fixed set; never an id.
final class WorkerMetrics: Sendable {
    let factory: any MetricsFactory
    private let names: Set<String>
    private let perTask = Mutex<[TaskKey: TaskInstruments]>([:])
    private let waits = Mutex<[String: Timer]>([:])

    /// The instruments of one (queue, task, outcome), made once: at thousands of tasks a
    /// second, a factory lookup per instrument and task cost the supervisor measurable CPU.
    private struct TaskKey: Hashable {
        var queue: String, task: String, outcome: String
    }

    private struct TaskInstruments: Sendable {
        let total: Counter
        let retries: Counter?
        let run: Timer
    }

    init(factory: any MetricsFactory, registeredNames: Set<String>) {
        self.factory = factory
        names = registeredNames
    }

    private func task(_ name: String) -> String { names.contains(name) ? name : "(unknown)" }

    /// A run (or a rejection) ended with `outcome`: succeeded, retrying, dead, cancelled,
    /// rejected, lease lost.
    func finished(queue: String, name: String, outcome: String, duration: Duration) {
        let key = TaskKey(queue: queue, task: task(name), outcome: outcome)
        let instruments = perTask.withLock { cache in
            if let hit = cache[key] { return hit }
            let made = TaskInstruments(
                total: Counter(label: "kale_tasks_total", dimensions: [("queue", queue), ("task", key.task), ("outcome", outcome)],
                               factory: factory),
                retries: outcome == "retrying"
                    ? Counter(label: "kale_task_retries_total", dimensions: [("queue", queue), ("task", key.task)], factory: factory) : nil,
                run: Timer(label: "kale_task_run_seconds", dimensions: [("queue", queue), ("task", key.task)], factory: factory))
            cache[key] = made
            return made
        }
        instruments.total.increment()
        instruments.retries?.increment()
        if duration > .zero { instruments.run.recordNanoseconds(Self.nanoseconds(duration)) }
    }

    /// A first attempt started `wait` after it could first run.
    func waited(queue: String, wait: Duration) {
        let timer = waits.withLock { cache in
            if let hit = cache[queue] { return hit }
            let made = Timer(label: "kale_task_wait_seconds", dimensions: [("queue", queue)], factory: factory)
            cache[queue] = made
            return made
        }
        timer.recordNanoseconds(Self.nanoseconds(wait))
    }

    /// A lease of `queue` was lost while held (another worker may run the task).
    func leaseLost(queue: String) {
        Counter(label: "kale_leases_lost_total", dimensions: [("queue", queue)], factory: factory).increment()
    }

    /// A child process was replaced, for `cause` (``ChildExits/Cause``).
    func childRestarted(cause: String) {
        Counter(label: "kale_child_restarts_total", dimensions: [("cause", cause)], factory: factory).increment()
    }

    /// The pool's state at a scrape: busy and idle children, and resident memory.
    func sample(busy: Int, idle: Int, supervisorRSS: Int, children: [(slot: Int, rss: Int)]) {
        Gauge(label: "kale_children", dimensions: [("state", "busy")], factory: factory).record(busy)
        Gauge(label: "kale_children", dimensions: [("state", "idle")], factory: factory).record(idle)
        Gauge(label: "kale_resident_memory_bytes", dimensions: [("process", "supervisor"), ("slot", "")], factory: factory)
            .record(supervisorRSS)
        for c in children {
            Gauge(label: "kale_resident_memory_bytes", dimensions: [("process", "child"), ("slot", String(c.slot))], factory: factory)
                .record(c.rss)
        }
    }

    private static func nanoseconds(_ d: Duration) -> Int64 {
        d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
    }
}
