import ArgumentParser
import Foundation
import Kale
import KaleRedis
import KaleTestSupport

/// `kale-bench queue` (the default): Kale's own scenarios, each beside `redis-benchmark` on
/// the same server in the same run where Redis has an equivalent.
struct QueueBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Enqueue, end-to-end, latency, CPU scaling and memory of Kale beside redis-benchmark."
    )

    @Option(help: "Redis URL to measure against. Default: start a private redis-server on a free loopback port.")
    var redis: String?

    @Option(help: "Runs per figure (the median is reported).")
    var runs = 3

    @Option(help: "Tasks per run for the enqueue figures (concurrent and batch send 4 times as many).")
    var enqueues = 20_000

    @Option(help: "Tasks drained per end-to-end run.")
    var drain = 20_000

    @Option(help: "Round trips per latency run.")
    var roundTrips = 2_000

    @Option(help: "Prefetch of the worker in the end-to-end runs (throughput tuning; the daemon's default is its concurrency).")
    var prefetch = 64

    @Option(help: "Run only these groups (\(Group.allCases.map(\.rawValue).joined(separator: ", "))); default: all.")
    var only: [Group] = []

    @Flag(help: "Print the figures as JSON on stdout; the table then goes to stderr.")
    var json = false

    enum Group: String, CaseIterable, ExpressibleByArgument {
        case enqueue, e2e, latency, scaling
    }

    func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard enqueues >= 1000, drain >= 1000, roundTrips >= 100 else {
            throw ValidationError("--enqueues and --drain need at least 1000, --round-trips at least 100")
        }
    }

    func run() async throws {
        let (url, server) = try await benchServer(redis)
        defer { server?.kill() }
        let tool = try RedisBenchmarkTool(path: nil, url: url)
        let scenarios = QueueScenarios(url: url, tool: tool, runs: runs, enqueues: enqueues, drain: drain,
                                       roundTrips: roundTrips, prefetch: prefetch)
        let groups = only.isEmpty ? Group.allCases : only
        var figures: [Figure] = []
        if groups.contains(.enqueue) { figures += try await scenarios.enqueue() }
        if groups.contains(.e2e) { figures += try await scenarios.endToEnd() }
        if groups.contains(.latency) { figures += try await scenarios.latency() }
        if groups.contains(.scaling) { figures += try await scenarios.scaling() }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let title = "kale-bench queue: \(url), \(cores) cores, median of \(runs) runs; ratio = median of per-run ours / reference"
        try emit(figures, title: title, json: json)
    }
}
