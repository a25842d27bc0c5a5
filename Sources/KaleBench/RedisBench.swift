import ArgumentParser
import Foundation
import KaleRedis
import KaleTestSupport

/// `kale-bench redis`: the KaleRedis client beside `redis-benchmark` on the same server.
///
/// Every figure is the median of `--runs` runs; ours and the reference alternate within a
/// run so that a noisy neighbour hurts both alike. Keys live under `kale-bench:<id>:` and
/// are deleted after every run.
struct RedisBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis",
        abstract: "LPUSH throughput and latency of KaleRedis beside redis-benchmark."
    )

    @OptionGroup var common: BenchOptions

    @Option(help: "LPUSH per run for the one-at-a-time figures; pipelined and concurrent figures send 4 times as many.")
    var requests = 50_000

    @Option(help: "Payload bytes per LPUSH.")
    var payload = 300

    @Option(help: "Concurrent async callers.")
    var callers = 100

    func validate() throws {
        guard requests >= 1000 else { throw ValidationError("--requests must be at least 1000") }
        guard payload >= 1 else { throw ValidationError("--payload must be at least 1 byte") }
        guard callers >= 1 else { throw ValidationError("--callers must be at least 1") }
    }

    func run() async throws {
        let (url, server, tool) = try await common.start()
        defer { server?.kill() }
        let figures = try await measure(url: url, tool: tool)
        let title = "kale-bench redis: \(url), payload \(payload) B, median of \(common.runs) runs, "
            + "\(requests) LPUSH per one-at-a-time run, \(4 * requests) otherwise; "
            + "ratio = median of per-run ours / reference"
        try emit(figures, title: title, json: common.json)
    }

    /// The groups of figures, to run a part alone (e.g. under a profiler).
    enum Group: String, CaseIterable, ExpressibleByArgument {
        case single, pipelines, concurrent
    }

    @Option(help: "Run only these groups (\(Group.allCases.map(\.rawValue).joined(separator: ", "))); default: all.")
    var only: [Group] = []

    private func measure(url: RedisURL, tool: RedisBenchmarkTool) async throws -> [Figure] {
        let load = RedisLoad(key: "kale-bench:\(UUID().uuidString.prefix(8)):list", payload: Array(repeating: UInt8(ascii: "x"), count: payload))
        let bench = Measurements(
            load: load, tool: tool, url: url, runs: common.runs, requests: requests, callers: callers,
            reference: ["LPUSH", load.key, String(repeating: "x", count: payload)])
        let groups = only.isEmpty ? Group.allCases : only
        var figures: [Figure] = []
        if groups.contains(.single) { figures += try await bench.oneAtATime() }
        if groups.contains(.pipelines) { figures += try await bench.pipelines() }
        if groups.contains(.concurrent) { figures += try await bench.concurrent() }
        return figures
    }
}
