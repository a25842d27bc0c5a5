import Foundation
public import Kale
import CKaleSystem
import KaleCelery
import KaleRedis
public import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// A worker daemon: fetches tasks from Redis under a lease and runs them in its pool.
///
/// `run()` returns after a shutdown (``shutdown(_:)``) has finished: every task it held has
/// either ended and been recorded, or been returned to its queue. Kill -9 of the process
/// loses nothing either: its leases expire and any worker's reaper requeues the tasks.
public final class Worker: Sendable {
    /// How to stop.
    public enum ShutdownMode: Sendable {
        /// Stop fetching; let running tasks finish within the grace period; requeue the rest.
        case warm
        /// Kill running tasks now and requeue them.
        case cold
    }

    enum Phase: Sendable, Equatable {
        case running
        case draining
        case killing
    }

    /// Unique among live workers: name, pid and a random suffix.
    public let id: String
    public let configuration: WorkerConfiguration
    public let kale: KaleConfiguration
    let registry: TaskRegistry
    let redis: RedisClient
    /// With ``KaleConfiguration/replication``: the connections that record outcomes and wait
    /// for the replicas. Kept apart so a lagging replica holds up only those writes, not the
    /// fetches, heartbeats and lease renewals queued on the shared pool behind a WAIT.
    let replicatedRedis: RedisClient?
    let broker: Broker
    /// The producer API over the worker's own connections: limits, schedules' enqueues.
    let client: KaleClient
    let executor: any Executor
    let logger: Logger
    let held: HeldTasks
    let jobs = JobQueue<LeasedTask>()
    let phase = Mutex(Phase.running)
    let shutdownRequests = ShutdownSignal()
    let startedAt = Date()
    let metrics: WorkerMetrics
    /// Numbers the fetches, for their lease tokens.
    let leaseCounter = Atomic<UInt64>(0)
    /// Workflow steps this worker just ended, for the forwarder to carry on at once (the
    /// outbox entry the outcome script wrote is the durable copy; decision 0024).
    let workflowEnds = AsyncStream<WorkflowForwarder.StepEnd>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
    /// Queues whose last fetch found them paused (``Broker/isPaused(_:)``): left out of the
    /// blocking wait until a fetch finds them resumed.
    let pausedQueues = Mutex<Set<String>>([])
    /// Whether the heartbeat wrote this worker's `worker_online` event yet.
    let announcedOnline = Atomic<Bool>(false)
    /// Reads the task records: Kale's format, plus Celery's on a worker that takes Celery
    /// queues over.
    let format: any MessageFormat
    /// Writes the Celery messages that follow a bridged task (callbacks, chain steps).
    let celeryWriter: CeleryMessageWriter
    /// Celery's events, with `--celery-events`: Flower's view of this worker.
    let celeryEvents: CeleryEventPublisher?
    /// Bridged tasks ended, for the `processed` of Celery's heartbeat.
    let celeryProcessed = Atomic<Int>(0)

    /// - Parameters:
    ///   - registry: the tasks this worker can run; children build the same registry.
    public init(configuration: WorkerConfiguration, kale: KaleConfiguration, registry: TaskRegistry,
                logger: Logger = Logger(label: "kale.worker")) {
        var configuration = configuration
        // A Celery queue's messages become tasks of the Kale queue of the same name.
        for queue in configuration.celery?.queues ?? [] where !configuration.queues.contains(where: { $0.name == queue }) {
            configuration.queues.append((queue, 1))
        }
        // Every worker reads both: one serving a queue the bridge fills (a rolling upgrade, a
        // worker started without --celery-queues) must run those tasks, not dead-letter them.
        // Inside any signature check: a Celery message is read only once its bytes passed it.
        format = kale.format.bridging { CeleryBridgeFormat(kale: $0) }
        self.configuration = configuration
        self.kale = kale
        self.registry = registry
        let suffix = UUID().uuidString.prefix(6).lowercased()
        id = "\(configuration.name)-\(getpid())-\(suffix)"
        var redisConfig = kale.redis
        redisConfig.clientName = "kale-worker"
        redis = RedisClient(configuration: redisConfig, logger: logger)
        if kale.replication != nil {
            var replicated = redisConfig
            replicated.poolSize = 2
            replicated.clientName = "kale-worker-replicated"
            replicatedRedis = RedisClient(configuration: replicated, logger: logger)
        } else {
            replicatedRedis = nil
        }
        broker = Broker(redis: redis, configuration: kale)
        client = KaleClient(configuration: kale, sharing: redis)
        // Celery's node name for this worker (`name@host` in Celery): in messages it sends and events.
        let node = "kale\(getpid())@\(configuration.name)"
        celeryWriter = CeleryMessageWriter(origin: node)
        if let celery = configuration.celery, celery.events {
            celeryEvents = CeleryEventPublisher(redis: redis, configuration: celery, database: redisConfig.url.database,
                                                hostname: node, version: Heartbeat.version)
        } else {
            celeryEvents = nil
        }
        var log = logger
        log[metadataKey: "worker"] = "\(id)"
        self.logger = log
        held = HeldTasks(slots: configuration.concurrency, prefetch: configuration.fixedPrefetch)
        let metrics = WorkerMetrics(factory: configuration.metricsFactory ?? MetricsSystem.factory,
                                    registeredNames: Set(registry.names))
        self.metrics = metrics
        switch configuration.pool {
        case .inline: executor = InlineExecutor(registry: registry, capacity: configuration.concurrency)
        case .process: executor = ProcessPool(configuration: configuration, format: format, metrics: metrics, logger: log)
        }
    }

    /// Samples the gauges a scrape reports (children busy and idle, resident memory).
    public func sampleMetrics() async {
        let pool = await executor.describe()
        metrics.sample(busy: pool.busy, idle: max(pool.capacity - pool.busy, 0), supervisorRSS: Int(kale_rss_bytes(getpid())),
                       children: pool.children.map { ($0.slot, $0.rssBytes) })
    }

    /// ``sampleMetrics()`` from a thread outside Swift concurrency (a scrape endpoint's),
    /// waiting at most a second.
    public func sampleMetricsBlocking() {
        let done = DispatchSemaphore(value: 0)
        // Unstructured: the caller is a plain thread; it waits on the semaphore, not the pool.
        Task {
            await sampleMetrics()
            done.signal()
        }
        _ = done.wait(timeout: .now() + 1)
    }

    /// Asks the worker to stop. A second warm request, or any cold one, makes it cold.
    public func shutdown(_ mode: ShutdownMode) {
        shutdownRequests.request(mode)
    }

    var isRunning: Bool { phase.withLock { $0 == .running } }

    /// Sleeps for `duration`, or less once a shutdown begins (so loops end promptly); with
    /// `whileHolding`, keeps sleeping while tasks are still held (the heartbeat must go on
    /// renewing their leases until they end).
    func pause(_ duration: Duration, whileHolding: Bool = false) async {
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end {
            if !isRunning, !whileHolding || held.count == 0 { return }
            try? await Task.sleep(for: min(.milliseconds(50), end - .now))
        }
    }

    /// Runs until shut down by ``shutdown(_:)``, by a swift-service-lifecycle graceful
    /// shutdown (warm), or by cancellation of the calling task (cold).
    ///
    /// - Throws: when the pool cannot start (e.g. the child executable is missing).
    public func run() async throws {
        // Unstructured on purpose: cancelling the caller must become a cold shutdown, not a
        // cancellation of the loops, whose sleeps would then return at once and spin while
        // the running tasks are still being killed and requeued.
        let body = Task { try await self.runUntilStopped() }
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await body.value
            } onGracefulShutdown: {
                self.shutdown(.warm)
            }
        } onCancel: {
            self.shutdown(.cold)
        }
    }

    private func runUntilStopped() async throws {
        // kombu's keys have no hash tags: the bridge's move from Celery's list into the
        // queue's intake would be a cross-slot command, refused on every message.
        if kale.redis.url.isCluster, configuration.celery != nil {
            throw KaleError(.invalidOptions, detail: "the Celery bridge needs one Redis or Sentinel, not a Redis Cluster "
                + "(kombu's keys are not in the queue's slot; see docs/high-availability.md)")
        }
        try await executor.start()
        logger.info("worker started", metadata: [
            "queues": "\(configuration.queues.map { "\($0.name)=\($0.weight)" }.joined(separator: ","))",
            "pool": "\(configuration.pool.rawValue)", "concurrency": "\(configuration.concurrency)",
            "redis.url": "\(kale.redis.url)",
        ])
        // Limits first: the first fetch must already see the queues' current limits.
        let limits = LimitSync(worker: self)
        // Every worker publishes what its registry declares, whether it fires schedules or not.
        let publish = { @Sendable [self] () async -> Bool in
            let limitsDone = await limits.publishDeclared()
            let schedulesDone = await ScheduleRunner(worker: self).publishDeclared()
            return limitsDone && schedulesDone
        }
        let published = await publish()
        await limits.sync()
        await withTaskGroup(of: Void.self) { group in
            if !published {
                // Redis was out at the start: keep trying, so a deploy's declarations land.
                group.addTask {
                    while self.isRunning, !(await publish()) { await self.pause(.seconds(5)) }
                }
            }
            group.addTask { await self.fetchLoop() }
            group.addTask { await limits.run() }
            group.addTask { await WorkflowForwarder(worker: self).run() }
            if configuration.firesSchedules {
                let schedules = ScheduleRunner(worker: self)
                group.addTask { await schedules.run() }
            }
            for queue in configuration.celery?.queues ?? [] { group.addTask { await self.celeryIntakeLoop(queue) } }
            if celeryEvents != nil {
                group.addTask { await self.celeryHeartbeatLoop() }
                group.addTask { await self.celeryControlLoop() }
            }
            for _ in 0..<configuration.concurrency { group.addTask { await self.runnerLoop() } }
            group.addTask { await Scheduler(worker: self).run() }
            group.addTask { await Reaper(worker: self).run() }
            let heartbeat = Heartbeat(worker: self)
            group.addTask { await heartbeat.run() }
            let listener = CancelListener(worker: self)
            group.addTask { await self.superviseShutdown() }
            await group.waitForAll()
            listener.stop()
        }
        await Heartbeat(worker: self).deregister()
        await celeryEvents?.sendWorker("worker-offline", active: 0, processed: celeryProcessed.load(ordering: .relaxed))
        await executor.close()
        logger.info("worker stopped")
    }

    /// Waits for shutdown requests and carries them out: warm, then cold after the grace
    /// period or a second request.
    private func superviseShutdown() async {
        let requests = shutdownRequests
        guard let first = await requests.next() else { return }
        if first == .warm {
            beginDraining()
            logger.info("warm shutdown: finishing running tasks", metadata: [
                "running": "\(held.runningCount)", "grace": "\(configuration.gracePeriod)"])
            let drained = await withTaskGroup(of: Bool.self) { group -> Bool in
                group.addTask {
                    while self.held.count > 0 { try? await Task.sleep(for: .milliseconds(20)) }
                    return true
                }
                group.addTask {
                    try? await Task.sleep(for: self.configuration.gracePeriod)
                    return false
                }
                group.addTask {
                    // A second request (SIGTERM again or SIGINT) turns this into a cold stop.
                    _ = await requests.next()
                    return false
                }
                let result = await group.next()!
                group.cancelAll()
                return result
            }
            if drained { return }
        }
        await coldStop()
    }

    private func beginDraining() {
        phase.withLock { if $0 == .running { $0 = .draining } }
        held.stopFetching()
        // Wake our own blocked BLPOP instead of waiting out its second. Another idle worker
        // may take the token instead; it then finds nothing and blocks again.
        let notify = configuration.queues.map { kale.keys.notify($0.name) }
        Task { [redis] in for key in notify { _ = try? await redis.send("LPUSH", key, "1") } }
        jobs.close()
        // Prefetched tasks that never started go back at once, not after their lease.
        let buffered = jobs.drain()
        Task { await self.requeue(buffered) }
    }

    private func coldStop() async {
        beginDraining()
        phase.withLock { $0 = .killing }
        let running = held.killRunning()
        logger.warning("cold shutdown: killing running tasks and requeueing them", metadata: ["running": "\(running.count)"])
        await executor.terminate()
        await requeue(jobs.drain())
        while held.count > 0 { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Gives tasks back to their queues without counting an attempt (one with a cancel
    /// request ends cancelled instead).
    func requeue(_ tasks: [LeasedTask]) async {
        for task in tasks {
            let reply = await acknowledge(broker.requeueCommand(task, worker: id, now: Broker.now()), task: task, what: "requeue")
            held.remove(task.key)
            logger.info(reply?.int == 3 ? "task cancelled as it was returned" : "task returned to queue",
                        metadata: ["task.id": "\(task.id)", "queue": "\(task.queue)"])
        }
    }

    /// Sends a transition command, retrying through Redis outages and transient refusals
    /// (`BUSY`, `LOADING`, `OOM`, `READONLY`, …): a result or a failure is never dropped just
    /// because Redis blinked. The scripts check the lease, so a late write is refused rather
    /// than wrong; retrying stops only once the lease can no longer be held: two lease lengths
    /// after Redis last confirmed it, when any live worker's reaper has taken the task back.
    ///
    /// With ``KaleConfiguration/replication`` set, an outcome (`replicated`) is followed by
    /// WAIT on the same connection, so it is on the replicas before the task counts as done
    /// here. Too few acknowledgements are logged, not retried: the outcome is recorded on the
    /// master, and writing it again cannot make a replica take it sooner.
    func acknowledge(_ command: RedisCommand, task: LeasedTask, what: String, replicated: Bool = false) async -> RedisReply? {
        var delay = Duration.milliseconds(50)
        var warned = false
        let began = ContinuousClock.now
        let replication = replicated ? kale.replication : nil
        while true {
            do {
                guard let replication, let replicatedRedis else { return try await redis.send(command) }
                let replies = try await replicatedRedis.pipeline([command, replication.command])
                let reply = try replies[0].throwingServerError(for: command, user: redis.configuration.url.user)
                let acked = replies[1].int ?? 0
                if acked < replication.replicas {
                    logger.warning("\(what) recorded on the master but not yet on its replicas",
                                   metadata: ["task.id": "\(task.id)", "replicas.acked": "\(acked)", "replicas.wanted": "\(replication.replicas)",
                                              "wait.reply": "\(replies[1])"])
                }
                return reply
            } catch let error as RedisError where error.isTransient || error.code == .closed {
                if !warned {
                    logger.warning("cannot record \(what), retrying", metadata: ["task.id": "\(task.id)", "error": "\(error)"])
                    warned = true
                }
                let renewedAt = held.entry(task.key)?.renewedAt ?? began
                if ContinuousClock.now > renewedAt + configuration.lease * 2 {
                    logger.error("gave up recording \(what); the task will be reaped and run again", metadata: ["task.id": "\(task.id)"])
                    return nil
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
            } catch {
                logger.error("recording \(what) failed", metadata: ["task.id": "\(task.id)", "error": "\(error)"])
                return nil
            }
        }
    }
}
