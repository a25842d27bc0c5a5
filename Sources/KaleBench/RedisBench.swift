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

    @Option(help: "Redis URL to measure against. Default: start a private redis-server on a free loopback port.")
    var redis: String?

    @Option(help: "LPUSH per run for the one-at-a-time figures; pipelined and concurrent figures send 4 times as many.")
    var requests = 50_000

    @Option(help: "Runs per figure (the median is reported).")
    var runs = 3

    @Option(help: "Payload bytes per LPUSH.")
    var payload = 300

    @Option(help: "Concurrent async callers.")
    var callers = 100

    @Flag(help: "Print the figures as JSON on stdout; the table then goes to stderr.")
    var json = false

    @Option(name: .customLong("redis-benchmark"), help: "Path of redis-benchmark. Default: found on PATH.")
    var redisBenchmark: String?

    func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1 (3 or more for a median worth reading)") }
        guard requests >= 1000 else { throw ValidationError("--requests must be at least 1000") }
        guard payload >= 1 else { throw ValidationError("--payload must be at least 1 byte") }
        guard callers >= 1 else { throw ValidationError("--callers must be at least 1") }
    }

    func run() async throws {
        let (url, server) = try await benchServer(redis)
        defer { server?.kill() }
        let tool = try RedisBenchmarkTool(path: redisBenchmark, url: url)
        let figures = try await measure(url: url, tool: tool)
        let title = "kale-bench redis: \(url), payload \(payload) B, median of \(runs) runs, "
            + "\(requests) LPUSH per one-at-a-time run, \(4 * requests) otherwise; "
            + "ratio = median of per-run ours / reference"
        try emit(figures, title: title, json: json)
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
            load: load, tool: tool, url: url, runs: runs, requests: requests, callers: callers,
            reference: ["LPUSH", load.key, String(repeating: "x", count: payload)])
        let groups = only.isEmpty ? Group.allCases : only
        var figures: [Figure] = []
        if groups.contains(.single) { figures += try await bench.oneAtATime() }
        if groups.contains(.pipelines) { figures += try await bench.pipelines() }
        if groups.contains(.concurrent) { figures += try await bench.concurrent() }
        return figures
    }
}
