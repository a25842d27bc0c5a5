import ArgumentParser
import Foundation
import KaleRedis
import KaleTestSupport

/// `kale-bench celery`: an unmodified Python Celery client (.venv-test/) sending to a Kale
/// worker that takes the Celery queue over, beside the same client sending to Celery's own
/// prefork worker, on one private redis-server. Each run measures both, Kale's first.
struct CeleryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "celery",
        abstract: "A Python Celery client against a Kale worker (the Celery bridge) beside a Celery prefork worker."
    )

    @Option(help: "Tasks sent at once per throughput run, then all awaited.")
    var tasks = 2_000

    @Option(help: "Sequential send_task().get() per latency run.")
    var roundTrips = 200

    @Option(help: "Runs (the median is reported; each run measures both workers).")
    var runs = 3

    @Flag(help: "Print the figures as JSON on stdout; the table then goes to stderr.")
    var json = false

    /// The repository this executable was built from: its .venv-test/ and Tests/celery/.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func validate() throws {
        guard tasks >= 100, roundTrips >= 100, runs >= 1 else {
            throw ValidationError("--tasks and --round-trips need at least 100 (a p99 of fewer is the maximum), --runs at least 1")
        }
    }

    func run() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.root + "/.venv-test/bin/python") else {
            throw BenchError("no \(Self.root)/.venv-test: create it there with "
                + "`source scripts/lib/deps.sh; source scripts/lib/python-venv.sh; ensure_test_venv`")
        }
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("kale-bench-celery-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        // Our own server on a free loopback port (never 6379), stopped by its pid below.
        let server = try await onThread { try RedisServer() }
        defer { server.stop() }
        let redis = RedisClient(configuration: RedisConfiguration(url: server.url, poolSize: 1))
        defer { redis.close() }
        let scenarios = CeleryScenarios(url: server.url, redis: redis, root: Self.root, logs: logs, tasks: tasks, roundTrips: roundTrips)
        var results: [(kale: DriverResult, celery: DriverResult)] = []
        do {
            for run in 1...runs { results.append(try await scenarios.run(run)) }
        } catch {
            // The logs stay for a look at what failed.
            throw BenchError("\(error) (logs in \(logs))")
        }
        try? FileManager.default.removeItem(atPath: logs)
        let figures = Self.figures(results)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let title = "kale-bench celery: \(server.url), \(cores) cores, Celery \(results[0].kale.celery) client "
            + "(Python \(results[0].kale.python)), queue \(CeleryScenarios.queue), concurrency \(CeleryScenarios.concurrency), "
            + "median of \(runs) runs; \(tasks) tasks at once, \(roundTrips) round trips; ratio = median of per-run Kale / Celery"
        try emit(figures, text: Self.table(figures, title: title), json: json)
    }

    static func figures(_ results: [(kale: DriverResult, celery: DriverResult)]) -> [Figure] {
        func figure(_ name: String, _ unit: String, _ value: (DriverResult) -> Double) -> Figure {
            Figure(name: name, unit: unit, ours: results.map { value($0.kale) }, reference: "Celery prefork worker",
                   referenceRuns: results.map { value($0.celery) }, target: nil)
        }
        return [
            figure("python send_task → result, tasks/s", "tasks/s") { $0.tasksPerSecond },
            figure("round trip p50 ms", "ms") { percentile($0.roundTripsMs.sorted(), 0.50) },
            figure("round trip p99 ms", "ms") { percentile($0.roundTripsMs.sorted(), 0.99) },
        ]
    }

    /// The figures' names carry their units, so the columns are the two workers and the ratio.
    static func table(_ figures: [Figure], title: String) -> String {
        func number(_ v: Double, _ unit: String) -> String { String(format: unit == "ms" ? "%.2f" : "%.0f", v) }
        var rows = [["figure", "Kale worker", "Celery prefork worker", "ratio"]]
        for f in figures {
            rows.append([f.name, number(f.oursMedian, f.unit), f.referenceMedian.map { number($0, f.unit) } ?? "",
                         f.ratio.map { String(format: "%.2f", $0) } ?? ""])
        }
        return aligned(rows, numeric: [1, 2, 3], title: title)
    }
}
