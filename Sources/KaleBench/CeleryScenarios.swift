import Foundation
import Kale
import KaleCelery
import KaleRedis

/// What Tests/celery/bench.py measured against one worker.
struct DriverResult: Decodable {
    let celery: String
    let python: String
    /// Worker processes that ran a warm-up task (the driver warms up until all have).
    let warmupPids: Int
    let tasks: Int
    /// From the first send to the last send returning, and to the last result.
    let sendSeconds: Double
    let seconds: Double
    let roundTripsMs: [Double]
    /// Distinct pids that the measured tasks returned: the processes that ran them.
    let pids: Int

    var tasksPerSecond: Double { Double(tasks) / seconds }
}

/// One run of `kale-bench celery`: the same Python client against a Kale worker, then against a
/// Celery prefork worker, on one queue of one Redis. Each run has key prefixes of its own.
struct CeleryScenarios {
    static let queue = "kbench"
    static let concurrency = 2

    let url: RedisURL
    let redis: RedisClient
    /// The repository root: .venv-test/ and Tests/celery/ are found there.
    let root: String
    let logs: String
    let tasks: Int
    let roundTrips: Int

    var python: String { root + "/.venv-test/bin/python" }
    var scripts: String { root + "/Tests/celery" }

    func progress(_ text: String) { FileHandle.standardError.write(Data("… \(text)\n".utf8)) }

    /// Both workers' figures for run `run`: the Kale worker first, then Celery's.
    func run(_ run: Int) async throws -> (kale: DriverResult, celery: DriverResult) {
        let prefix = "cbench-\(UUID().uuidString.prefix(8).lowercased())"
        let celeryPrefix = prefix + "-celery:"
        let environment = ProcessInfo.processInfo.environment.merging(
            ["KALE_TEST_REDIS_URL": url.connectionString, "KALE_TEST_CELERY_PREFIX": celeryPrefix]) { $1 }
        let keys = CeleryKeys(brokerPrefix: celeryPrefix, resultPrefix: celeryPrefix)

        let kaleWorker = try BenchProcess(
            executable: BenchWorker.executable,
            arguments: ["worker", "--redis", url.connectionString, "--prefix", prefix, "--queues", Self.queue,
                        "--celery-queues", Self.queue, "--celery-broker-prefix", celeryPrefix, "--celery-result-prefix", celeryPrefix,
                        "--concurrency", String(Self.concurrency), "--log-level", "warning"],
            log: "\(logs)/kale-worker-\(run).log")
        let kale = try await stopping(kaleWorker) { try await drive("kale.noop", environment, run: run, worker: kaleWorker) }
        report(run, "Kale worker", kale)
        try await expectEmpty(keys, kale: Keys(prefix: prefix))

        // The command of a Celery deployment, from the app's directory (-A app).
        let celeryWorker = try BenchProcess(
            executable: python,
            arguments: ["-m", "celery", "-A", "app", "worker", "-Q", Self.queue, "--concurrency", String(Self.concurrency),
                        "--pool", "prefork", "--without-heartbeat", "--without-mingle", "--without-gossip"],
            environment: environment, directory: scripts, log: "\(logs)/celery-worker-\(run).log")
        let celery = try await stopping(celeryWorker) { try await drive("py.noop", environment, run: run, worker: celeryWorker) }
        report(run, "Celery prefork worker", celery)
        try await expectEmpty(keys, kale: Keys(prefix: prefix))

        _ = try await redis.send("EVAL", "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('UNLINK', k) end return 0", 0, prefix + "*")
        return (kale, celery)
    }

    /// Runs bench.py against the worker serving the queue, which must live until it is done.
    private func drive(_ task: String, _ environment: [String: String], run: Int, worker: BenchProcess) async throws -> DriverResult {
        let out = "\(logs)/bench-\(task)-\(run).json"
        let driver = try BenchProcess(
            executable: python,
            arguments: [scripts + "/bench.py", task, Self.queue, String(tasks), String(roundTrips), String(Self.concurrency)],
            environment: environment, log: "\(logs)/bench-\(task)-\(run).log", output: out)
        return try await stopping(driver) {
            // The driver's own get() timeouts end it first; this bounds a hang anywhere else.
            let deadline = ContinuousClock.now + .seconds(900)
            while driver.process.isRunning, ContinuousClock.now < deadline {
                if !worker.process.isRunning {
                    throw BenchError("the worker for \(task) exited (status \(worker.process.terminationStatus)): \(worker.logTail())")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            guard !driver.process.isRunning, driver.process.terminationStatus == 0,
                  let line = (try? String(contentsOfFile: out, encoding: .utf8))?.split(whereSeparator: \.isNewline).last
            else {
                throw BenchError("bench.py \(task) failed or timed out: \(driver.logTail())\nworker log: \(worker.logPath)")
            }
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            return try decoder.decode(DriverResult.self, from: Data(line.utf8))
        }
    }

    private func report(_ run: Int, _ worker: String, _ r: DriverResult) {
        progress("run \(run), \(worker): " + String(format: "%d tasks sent in %.2f s, all results in %.2f s (%.0f/s), by %d processes; "
                        + "%d round trips, p50 %.2f ms", r.tasks, r.sendSeconds, r.seconds, r.tasksPerSecond,
                        r.pids, r.roundTripsMs.count, percentile(r.roundTripsMs.sorted(), 0.5))
                 + (r.warmupPids < Self.concurrency ? "; warm-up reached only \(r.warmupPids) processes" : ""))
    }

    /// Throws unless nothing of the queue is left: kombu's lists and unacked hash, Kale's intake
    /// list, pending lists and leases. Each worker must start on an empty queue.
    private func expectEmpty(_ celery: CeleryKeys, kale: Keys) async throws {
        let lists = celery.buckets(Self.queue).map(\.list) + [kale.celeryIntake(Self.queue, brokerPrefix: celery.brokerPrefix)]
            + kale.pendingLists(Self.queue)
        var commands = lists.map { RedisCommand("LLEN", $0) }
        commands += [RedisCommand("HLEN", celery.unacked), RedisCommand("ZCARD", kale.active(Self.queue))]
        let replies = try await redis.pipeline(commands)
        let left = zip(lists + [celery.unacked, kale.active(Self.queue)], replies).filter { $0.1.int != 0 }
        guard left.isEmpty else {
            throw BenchError("the queue is not empty after a phase: " + left.map { "\($0.0.debugDescription) \($0.1)" }.joined(separator: ", "))
        }
    }
}
