import ArgumentParser
import Foundation
import KaleRedis
import KaleTestSupport

/// `kale-bench peers`: the same drain through Kale's default worker, Sidekiq (Debian's
/// ruby-sidekiq) and Celery (PyPI, .venv-test/), on one private redis-server in one run.
/// `scripts/bench-peers.sh` installs both peers when missing, builds this and runs it.
struct PeersBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peers",
        abstract: "Kale's default worker beside Sidekiq and Celery: the same no-op drain on the same Redis in one run."
    )

    @Option(help: "No-op tasks enqueued, then drained, per peer and run (a multiple of 1000).")
    var tasks = 20_000

    @Option(help: "Runs (the median is reported; each run measures all three).")
    var runs = 3

    @Flag(help: "Print the figures as JSON on stdout; the table then goes to stderr.")
    var json = false

    func validate() throws {
        guard tasks >= 1000, tasks % 1000 == 0, runs >= 1 else { throw ValidationError("--tasks: a multiple of 1000; --runs at least 1") }
    }

    func run() async throws {
        let root = CeleryBench.root
        guard FileManager.default.isExecutableFile(atPath: root + "/.venv-test/bin/python"),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/sidekiq") else {
            throw BenchError("Celery (.venv-test/) or Sidekiq (ruby-sidekiq) is missing: scripts/bench-peers.sh installs both")
        }
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("kale-bench-peers-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let server = try await onThread { try RedisServer() }
        defer { server.stop() }
        let redis = RedisClient(configuration: RedisConfiguration(url: server.url, poolSize: 1))
        defer { redis.close() }
        let peers = PeerScenarios(url: server.url, redis: redis, root: root, logs: logs, tasks: tasks)
        var results: [(kale: PeerResult, sidekiq: PeerResult, celery: PeerResult)] = []
        do {
            for run in 1...runs {
                results.append((try await peers.kale(run: run), try await peers.sidekiq(run: run), try await peers.celery(run: run)))
            }
        } catch {
            throw BenchError("\(error) (logs in \(logs))")
        }
        try? FileManager.default.removeItem(atPath: logs)
        let rows: [(String, String, (PeerResult) -> Double, Double?)] = [
            ("end to end, \(tasks) no-ops pre-enqueued", "tasks/s", { $0.drainRate }, 1.5),
            ("worker CPU per task (whole process tree)", "µs", { $0.workerCPU }, nil),
            ("Redis CPU per task", "µs", { $0.redisCPU }, nil),
            ("Redis commands per task (incl. inside scripts)", "calls", { $0.commands }, nil),
            ("Redis memory per queued no-op", "B", { $0.bytesPerQueued }, nil),
            ("enqueue (Kale enqueueBatch, Sidekiq push_bulk, Celery send_task)", "tasks/s", { $0.enqueueRate }, 1.5),
        ]
        var figures: [Figure] = []
        for (name, unit, value, target) in rows {
            figures.append(Figure(name: name, unit: unit, ours: results.map { value($0.kale) }, reference: "Sidekiq 6.4 -c 5",
                                  referenceRuns: results.map { value($0.sidekiq) }, target: target))
            figures.append(Figure(name: name, unit: unit, ours: results.map { value($0.kale) }, reference: "Celery 5.7 prefork -c 2",
                                  referenceRuns: results.map { value($0.celery) }, target: nil))
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let title = "kale-bench peers: \(server.url), \(cores) cores, median of \(runs) runs; Kale: kale worker --concurrency 2 "
            + "(defaults, results kept); Sidekiq: no results, no acks; Celery: results in Redis; ratio = Kale / Sidekiq"
        try emit(figures, text: Self.table(figures, title: title), json: json)
    }

    /// One line per figure: the three peers side by side, and Kale / Sidekiq.
    static func table(_ figures: [Figure], title: String) -> String {
        func number(_ v: Double?, _ unit: String) -> String { v.map { String(format: unit == "calls" ? "%.1f" : "%.0f", $0) } ?? "" }
        var rows = [["figure", "unit", "Kale", "Sidekiq", "Celery", "Kale/Sidekiq", "target"]]
        for i in stride(from: 0, to: figures.count, by: 2) {
            let (sidekiq, celery) = (figures[i], figures[i + 1])
            rows.append([sidekiq.name, sidekiq.unit, number(sidekiq.oursMedian, sidekiq.unit), number(sidekiq.referenceMedian, sidekiq.unit),
                         number(celery.referenceMedian, celery.unit), sidekiq.ratio.map { String(format: "%.2f", $0) } ?? "",
                         sidekiq.target.map { String(format: "≥ %.1f", $0) } ?? ""])
        }
        return aligned(rows, numeric: [2, 3, 4, 5], title: title)
    }
}
