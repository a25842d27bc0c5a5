import ArgumentParser
import Dispatch
import Foundation
import Glibc
import Kale
import KaleRedis
import KaleObservability
import KaleWorker
import Logging

/// `kale worker`: runs a worker daemon until SIGTERM/SIGINT.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker daemon that executes tasks from the queues.",
        discussion: """
        Examples:
          kale worker --queues images,pdf --concurrency 4
          kale worker --queues images=3,pdf=1 --time-limit 5m
          kale worker --queues images --max-memory-per-child 512

        SIGTERM stops warmly (running tasks get --grace to finish; the rest go back to the queue at once); a second SIGTERM or a SIGINT stops at once, requeueing running tasks.
        """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Queues in strict order (a,b) or with weights (a=3,b=1).", valueName: "queues"))
    var queues: String = "default"

    @Option(help: "Tasks run at once (child processes). Default: number of cores.")
    var concurrency: Int?

    @Option(help: "Where tasks run: process (isolated children) or inline (this process).")
    var pool: String = "process"

    @Option(name: .customLong("max-tasks-per-child"), help: "Replace a child after this many tasks.")
    var maxTasksPerChild: Int?

    @Option(name: .customLong("max-memory-per-child"), help: ArgumentHelp("Kill/recycle a child above this resident memory.", valueName: "MB"))
    var maxMemoryPerChild: Int?

    @Option(name: .customLong("soft-time-limit"), help: ArgumentHelp("Ask a task to stop after this long (e.g. 30s, 5m).", valueName: "duration"))
    var softTimeLimit: DurationArgument?

    @Option(name: .customLong("time-limit"), help: ArgumentHelp("Kill a task's child after this long.", valueName: "duration"))
    var timeLimit: DurationArgument?

    @Option(help: ArgumentHelp("Lease length; renewed every third of it (min 2s).", valueName: "duration"))
    var lease: DurationArgument?

    @Option(help: ArgumentHelp("Warm-shutdown grace period for running tasks.", valueName: "duration"))
    var grace: DurationArgument?

    @Option(help: "Worker name (default: the host name).")
    var name: String?

    @Option(name: .customLong("prefetch"), help: "Tasks leased ahead of a free slot (default: sized by run time, about 10 ms of work per slot, 1 to 64 per slot).")
    var prefetch: Int?

    @Flag(help: "Serve the built-in kale.* diagnostic tasks too.")
    var diagnostics = false

    @Option(name: .customLong("metrics-port"), help: "Serve Prometheus metrics at http://<metrics-address>:<port>/metrics.")
    var metricsPort: Int?

    @Option(name: .customLong("metrics-address"), help: "The IPv4 address the metrics endpoint binds (default 127.0.0.1: this host only).")
    var metricsAddress = "127.0.0.1"

    @Option(name: .customLong("schedule-lease"), help: ArgumentHelp("The schedule leader's lease: a new leader takes over within it (default 10s).", valueName: "duration"))
    var scheduleLease: DurationArgument?

    @Flag(name: .customLong("no-schedules"), help: "Never lead the firing of schedules (other workers do).")
    var noSchedules = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @OptionGroup(title: "Celery bridge") var celery: CeleryWorkerOptions

    func validate() throws {
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if WorkerConfiguration.Pool(rawValue: pool) == nil { throw ValidationError("--pool must be process or inline, not '\(pool)'") }
        if let lease, lease.duration < .seconds(2) { throw ValidationError("--lease must be at least 2s") }
        if let l = scheduleLease, l.duration < .seconds(1) { throw ValidationError("--schedule-lease must be at least 1s") }
        if let m = maxTasksPerChild, m < 1 { throw ValidationError("--max-tasks-per-child must be at least 1") }
        if let m = maxMemoryPerChild, m < 1 { throw ValidationError("--max-memory-per-child must be at least 1 (MB)") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level '\(logLevel)' is not a log level") }
        _ = try parseQueues()
        try celery.validate()
        if let p = metricsPort, !(0...65_535).contains(p) { throw ValidationError("--metrics-port must be 0…65535") }
    }

    /// `a,b` (strict order) or `a=3,b=1` (weighted).
    func parseQueues() throws -> (queues: [(name: String, weight: Int)], strict: Bool) {
        var out: [(String, Int)] = []
        var weighted = false
        for part in queues.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            let pieces = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard Keys.isValidQueueName(pieces[0]) else { throw ValidationError("'\(pieces[0])' is not a valid queue name") }
            var weight = 1
            if pieces.count == 2 {
                guard let w = Int(pieces[1]), w >= 1 else { throw ValidationError("weight of queue '\(pieces[0])' must be a whole number ≥ 1") }
                weight = w
                weighted = true
            }
            out.append((pieces[0], weight))
        }
        guard !out.isEmpty else { throw ValidationError("--queues names no queue") }
        return (out, !weighted)
    }

    /// `arguments` without `--redis URL` (or `--redis=URL`): a child reads the URL from
    /// `KALE_REDIS_URL`, which the supervisor sets for it.
    static func childArguments(_ arguments: [String]) -> [String] {
        var out: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                out += arguments[(index - 1)...]
                break
            }
            if argument == "--redis" {
                index += 1
                continue
            }
            if !argument.hasPrefix("--redis=") { out.append(argument) }
        }
        return out
    }

    func run() async throws {
        let registry = KaleCLI.registry
        if (diagnostics || KaleCLI.diagnosticsByDefault), registry.handler(named: DiagnosticTasks.Noop.name) == nil {
            DiagnosticTasks.register(in: registry)
            registry.register(DiagnosticTasks.Blob())
            if let kale = try? global.kaleConfiguration(poolSize: 1) { registry.register(DiagnosticTasks.Count(kale: kale)) }
        }
        // A pool child runs the same command line; it serves tasks over its pipes instead.
        if ChildRuntime.isChild { ChildRuntime.run(registry: registry) }

        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        guard !registry.names.isEmpty else {
            throw CLIFailure.usage("this executable registers no tasks", hint: "pass --diagnostics to serve the built-in kale.* tasks")
        }
        let (queueList, strict) = try parseQueues()
        var kale = try global.kaleConfiguration(poolSize: 4)
        kale.redis.clientName = "kale-worker"
        // Children run this command line, which every user of the host can read in ps: the
        // URL (and its password) reaches them through the environment instead, which only
        // this user can read. Our own command line cannot be rewritten from Swift.
        var childEnvironment: [String: String] = [:]
        if global.redis != nil {
            childEnvironment[RedisURL.environmentKey] = kale.redis.url.connectionString
            if kale.redis.url.password != nil || kale.redis.url.sentinelPassword != nil {
                Logger(label: "kale.worker").warning(
                    "the Redis password given with --redis is visible to every user of this host in ps; set KALE_REDIS_URL instead",
                    metadata: ["redis.url": "\(kale.redis.url)"])
            }
        }
        var config = WorkerConfiguration(
            queues: queueList, strictOrder: strict,
            pool: WorkerConfiguration.Pool(rawValue: pool)!,
            childExecutable: "/proc/self/exe",
            childArguments: WorkerCommand.childArguments(Array(CommandLine.arguments.dropFirst())),
            childEnvironment: childEnvironment)
        if let concurrency { config.concurrency = concurrency }
        if let prefetch { config.prefetch = prefetch }
        if let lease { config.lease = lease.duration }
        if let grace { config.gracePeriod = grace.duration }
        config.softTimeLimit = softTimeLimit?.duration
        config.timeLimit = timeLimit?.duration
        config.maxTasksPerChild = maxTasksPerChild
        config.maxMemoryPerChild = maxMemoryPerChild.map { $0 << 20 }
        if let name { config.name = name }
        if let scheduleLease { config.scheduleLease = scheduleLease.duration }
        config.firesSchedules = !noSchedules
        config.celery = celery.configuration()

        // Fail fast with exit 3 when Redis is not there at start; later outages are ridden out.
        // A Redis user without a permission the worker needs fails here too, with the rule it
        // lacks, instead of retrying a refused fetch for ever.
        let probe = RedisConnection(configuration: kale.redis)
        _ = try probe.send(RedisCommand("PING"))
        try AccessRole.worker.check(on: probe, keys: kale.keys, queue: queueList[0].name, replicated: kale.replication != nil)
        probe.close()

        let exporter = metricsPort == nil ? nil : PrometheusExporter()
        config.metricsFactory = exporter?.factory
        let worker = Worker(configuration: config, kale: kale, registry: registry)
        var endpoint: MetricsEndpoint?
        if let exporter, let metricsPort {
            do {
                endpoint = try MetricsEndpoint(address: metricsAddress, port: metricsPort, logger: Logger(label: "kale.metrics")) {
                    worker.sampleMetricsBlocking()
                    return exporter.render()
                }
            } catch {
                throw CLIFailure.usage("\(error)", hint: "pick a free port for --metrics-port, or another --metrics-address")
            }
            Logger(label: "kale.worker").info("serving metrics", metadata: ["url": "http://\(metricsAddress):\(endpoint!.port)/metrics"])
        }
        defer { endpoint?.stop() }
        let signals = SignalHandlers(worker: worker)
        defer { signals.cancel() }
        try await worker.run()
    }
}

/// SIGTERM: warm shutdown (a second one: cold). SIGINT: cold shutdown.
final class SignalHandlers {
    private let sources: [any DispatchSourceSignal]

    init(worker: Worker) {
        // Children get their own process group, so a terminal's Ctrl-C reaches only us.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        // Writes to the children need no help (they block SIGPIPE themselves); this is for
        // everything else the CLI writes, such as a log piped into a program that quits.
        signal(SIGPIPE, SIG_IGN)
        let term = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
        term.setEventHandler { worker.shutdown(.warm) }
        let int = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        int.setEventHandler { worker.shutdown(.cold) }
        term.resume()
        int.resume()
        sources = [term, int]
    }

    func cancel() { for s in sources { s.cancel() } }
}
