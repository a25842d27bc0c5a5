public import Foundation
public import CoreMetrics
public import KaleCelery

/// How a worker daemon runs. Read once at the edge (the CLI) and passed down.
public struct WorkerConfiguration: Sendable {
    /// Where tasks run.
    public enum Pool: String, Sendable, CaseIterable {
        /// Each task in a child process of a supervised pool: a crash kills one child only.
        case process
        /// Tasks run in the worker's own process: for tests and light I/O work.
        case inline
    }

    /// The queues to serve. With ``strictOrder`` true, an earlier queue is always drained
    /// before a later one is looked at; otherwise each fetch round visits the queues in a
    /// random order weighted by `weight`.
    public var queues: [(name: String, weight: Int)]
    public var strictOrder: Bool
    /// Tasks running at once (children in the process pool). Default: the number of cores.
    public var concurrency: Int
    public var pool: Pool
    /// Tasks leased ahead of a free slot, so a slot never waits on a round trip. Prefetched
    /// tasks are leased (and renewed) like running ones. Default: sized by the mean run time,
    /// about 10 ms of work per slot, from 1 to 64 per slot (decision 0031); setting it fixes it.
    /// Reads as the smallest the default sizes it to (one per slot) while not set.
    public var prefetch: Int {
        get { fixedPrefetch ?? concurrency }
        set { fixedPrefetch = newValue }
    }
    /// The prefetch set by hand; nil sizes it by run times.
    public var fixedPrefetch: Int?
    /// How long a lease lasts without renewal. Default 15 s; at least 2 s.
    public var lease: Duration
    /// Warm shutdown waits this long for running tasks before killing them. Default 30 s.
    public var gracePeriod: Duration
    /// Applied when a task has no soft time limit of its own. Default none.
    public var softTimeLimit: Duration?
    /// Applied when a task has no hard time limit of its own. Default none.
    public var timeLimit: Duration?
    /// After a soft-limit or cancel request, how long a child gets before SIGKILL. Default 5 s.
    public var stopGrace: Duration
    /// A child is replaced after this many tasks. Default: never.
    public var maxTasksPerChild: Int?
    /// A child whose resident memory exceeds this many bytes is killed (while running) or
    /// recycled (between tasks). Default: no ceiling. The child also refuses allocations
    /// beyond this many bytes more than it held when it started, so a spike between two
    /// samples fails too (as `MemoryLimitExceeded`).
    public var maxMemoryPerChild: Int?
    /// How often due scheduled tasks are promoted. Default 50 ms (due tasks start within ~100 ms).
    public var schedulerInterval: Duration
    /// How often expired leases are reaped. Default 1 s.
    public var reaperInterval: Duration
    /// Whether this worker takes part in firing schedules (``ScheduleRunner``): it may be
    /// elected their leader. Default true; every worker can, and one does at a time.
    public var firesSchedules = true
    /// The schedule leader's lease: a leader that dies is replaced within this, and ticks
    /// it missed by no more than this (plus a second) still fire. Default 10 s.
    public var scheduleLease: Duration = .seconds(10)
    /// A name for this worker; the id adds the pid and a random suffix. Default the host name.
    public var name: String
    /// The executable started for children and its arguments (default: this executable
    /// with this process's arguments; the child mode is chosen by environment).
    public var childExecutable: String
    public var childArguments: [String]
    /// Largest result a task may return, in bytes of its JSON. A larger one fails the task
    /// with `ResultTooLarge`, not retried (the same input gives the same result): a result is
    /// written to Redis and read back by every waiter, so its size is bounded like a message's.
    /// Default 8 MiB.
    public var maxResultSize = 8 << 20
    /// Variables added to this process's environment for children. Default: none. Secrets a
    /// child needs (the Redis URL with its password) go here, not in ``childArguments``:
    /// every user of the host can read a command line in `ps`, not another user's environment.
    public var childEnvironment: [String: String]
    /// Celery queues to take over (the Celery bridge): their messages become Kale tasks of
    /// the queue of the same name, which this worker then also serves. Default none.
    public var celery: CeleryConfiguration?
    /// Where the worker's metrics go (`kale_tasks_total`, run- and wait-time histograms, child
    /// restarts …). Default nil: the process's `MetricsSystem.factory`, which is a no-op
    /// until the app bootstraps one; `kale worker --metrics-port` sets a Prometheus one.
    public var metricsFactory: (any MetricsFactory)?

    public init(
        queues: [(name: String, weight: Int)] = [("default", 1)],
        strictOrder: Bool = true,
        concurrency: Int = ProcessInfo.processInfo.activeProcessorCount,
        pool: Pool = .process,
        prefetch: Int? = nil,
        lease: Duration = .seconds(15),
        gracePeriod: Duration = .seconds(30),
        softTimeLimit: Duration? = nil,
        timeLimit: Duration? = nil,
        stopGrace: Duration = .seconds(5),
        maxTasksPerChild: Int? = nil,
        maxMemoryPerChild: Int? = nil,
        schedulerInterval: Duration = .milliseconds(50),
        reaperInterval: Duration = .seconds(1),
        name: String = ProcessInfo.processInfo.hostName,
        childExecutable: String = "/proc/self/exe",
        childArguments: [String] = Array(CommandLine.arguments.dropFirst()),
        childEnvironment: [String: String] = [:]
    ) {
        precondition(concurrency > 0, "concurrency must be at least 1")
        precondition(!queues.isEmpty, "a worker needs at least one queue")
        precondition(lease >= .seconds(2), "the lease must be at least 2 s")
        self.queues = queues
        self.strictOrder = strictOrder
        self.concurrency = concurrency
        self.pool = pool
        self.fixedPrefetch = prefetch
        self.lease = lease
        self.gracePeriod = gracePeriod
        self.softTimeLimit = softTimeLimit
        self.timeLimit = timeLimit
        self.stopGrace = stopGrace
        self.maxTasksPerChild = maxTasksPerChild
        self.maxMemoryPerChild = maxMemoryPerChild
        self.schedulerInterval = schedulerInterval
        self.reaperInterval = reaperInterval
        self.name = name
        self.childExecutable = childExecutable
        self.childArguments = childArguments
        self.childEnvironment = childEnvironment
    }

    /// Heartbeats (lease renewals) happen this often: a third of the lease.
    public var heartbeatInterval: Duration { lease / 3 }

    /// The queue names in the order of the next fetch round.
    func fetchOrder() -> [String] {
        if strictOrder || queues.count == 1 { return queues.map(\.name) }
        // Weighted random order without replacement: a queue of weight 3 comes first three
        // times as often as one of weight 1, yet no queue is ever starved.
        var pool = queues
        var order: [String] = []
        while !pool.isEmpty {
            let total = pool.reduce(0) { $0 + max($1.weight, 1) }
            var pick = Int.random(in: 0..<total)
            let index = pool.firstIndex { pick -= max($0.weight, 1); return pick < 0 }!
            order.append(pool.remove(at: index).name)
        }
        return order
    }
}
