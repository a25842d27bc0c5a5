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

    @OptionGroup var common: BenchOptions

    @Option(help: "Tasks per run for the enqueue figures (concurrent and batch send 4 times as many).")
    var enqueues = 20_000

    @Option(help: "Tasks drained per end-to-end run.")
    var drain = 20_000

    @Option(help: "Round trips per latency run.")
    var roundTrips = 2_000

    @Option(help: "Fix the prefetch of the workers the scenarios start (default: the daemon's own, sized by run time).")
    var prefetch: Int?

    @Option(help: "Run only these groups (\(Group.allCases.map(\.rawValue).joined(separator: ", "))); default: all.")
    var only: [Group] = []

    enum Group: String, CaseIterable, ExpressibleByArgument {
        case enqueue, e2e, await, latency, scaling, observability, limits, workflows, security, cluster
    }

    func validate() throws {
        guard enqueues >= 1000, drain >= 1000, roundTrips >= 100 else {
            throw ValidationError("--enqueues and --drain need at least 1000, --round-trips at least 100")
        }
    }

    func run() async throws {
        let (url, server, tool) = try await common.start()
        defer { server?.kill() }
        let runs = common.runs
        let scenarios = QueueScenarios(url: url, tool: tool, runs: runs, enqueues: enqueues, drain: drain,
                                       roundTrips: roundTrips, prefetch: prefetch)
        let groups = only.isEmpty ? Group.allCases : only
        var figures: [Figure] = []
        if groups.contains(.enqueue) { figures += try await scenarios.enqueue() }
        if groups.contains(.e2e) { figures += try await scenarios.endToEnd() }
        if groups.contains(.await) { figures += try await scenarios.awaitBatch() }
        if groups.contains(.latency) { figures += try await scenarios.latency() }
        if groups.contains(.scaling) { figures += try await scenarios.scaling() }
        if groups.contains(.observability) { figures += try await scenarios.observability() }
        if groups.contains(.limits) { figures += try await scenarios.limits() }
        if groups.contains(.workflows) { figures += try await scenarios.workflows() }
        if groups.contains(.security) { figures += try await scenarios.security(replicaOf: server) }
        if groups.contains(.cluster) { figures += try await scenarios.cluster() }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let title = "kale-bench queue: \(url), \(cores) cores, median of \(runs) runs; ratio = median of per-run ours / reference"
        try emit(figures, title: title, json: common.json)
    }
}
