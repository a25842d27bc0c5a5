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
        let server: RedisServer?
        let url: RedisURL
        if let redis {
            url = try RedisURL(parsing: redis)
            server = nil
        } else {
            let started = try await onThread { try RedisServer() }
            server = started
            url = started.url
        }
        defer { server?.kill() }
        let tool = try RedisBenchmarkTool(path: redisBenchmark, url: url)
        let figures = try await measure(url: url, tool: tool)
        let title = "kale-bench redis: \(url), payload \(payload) B, median of \(runs) runs, "
            + "\(requests) LPUSH per one-at-a-time run, \(4 * requests) otherwise"
        let text = table(figures, title: title)
        if json {
            FileHandle.standardError.write(Data((text + "\n").utf8))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(figures), as: UTF8.self))
        } else {
            print(text)
        }
    }

    private func progress(_ text: String) {
        FileHandle.standardError.write(Data("… \(text)\n".utf8))
    }

    private func measure(url: RedisURL, tool: RedisBenchmarkTool) async throws -> [Figure] {
        let load = RedisLoad(key: "kale-bench:\(UUID().uuidString.prefix(8)):list", payload: Array(repeating: UInt8(ascii: "x"), count: payload))
        let reference = ["LPUSH", load.key, String(repeating: "x", count: payload)]
        func configuration(_ poolSize: Int) -> RedisConfiguration {
            RedisConfiguration(url: url, poolSize: poolSize)
        }
        let pool4 = RedisClient(configuration: configuration(4))
        let pool1 = RedisClient(configuration: configuration(1))
        defer {
            pool4.close()
            pool1.close()
        }
        let n = requests
        let bulk = 4 * requests

        var async4: [RedisLoad.Outcome] = [], async1: [RedisLoad.Outcome] = [], sync: [RedisLoad.Outcome] = []
        var single: [ReferenceResult] = []
        var piped: [Double] = [], pipedSync: [Double] = [], pipedRef: [Double] = []
        var many4: [Double] = [], many1: [Double] = [], manyRef: [Double] = []

        for run in 1...runs {
            progress("run \(run)/\(runs): one at a time")
            _ = try await load.oneAtATime(pool4, count: min(2000, n))
            _ = try await load.oneAtATime(pool1, count: min(2000, n))
            try await load.clean(pool1)
            async4.append(try await load.oneAtATime(pool4, count: n))
            try await load.clean(pool1)
            sync.append(try await load.oneAtATime(configuration(1), count: n))
            try await load.clean(pool1)
            async1.append(try await load.oneAtATime(pool1, count: n))
            try await load.clean(pool1)
            single.append(try await onThread { try tool.run(clients: 1, requests: n, pipeline: 1, command: reference) })
            try await load.clean(pool1)

            progress("run \(run)/\(runs): pipelines of 16")
            piped.append(try await load.pipelined(pool4, count: bulk, depth: 16).opsPerSecond)
            try await load.clean(pool1)
            pipedSync.append(try await load.pipelined(configuration(1), count: bulk, depth: 16).opsPerSecond)
            try await load.clean(pool1)
            pipedRef.append(try await onThread { try tool.run(clients: 1, requests: bulk, pipeline: 16, command: reference) }.rps)
            try await load.clean(pool1)

            progress("run \(run)/\(runs): \(callers) concurrent callers")
            many4.append(try await load.concurrent(pool4, count: bulk, callers: callers).opsPerSecond)
            try await load.clean(pool1)
            many1.append(try await load.concurrent(pool1, count: bulk, callers: callers).opsPerSecond)
            try await load.clean(pool1)
            manyRef.append(try await onThread { try tool.run(clients: 50, requests: bulk, pipeline: 1, command: reference) }.rps)
            try await load.clean(pool1)
        }

        let c1 = "redis-benchmark -c 1"
        let rps = single.map(\.rps)
        var figures = [
            Figure(name: "one at a time, RedisClient pool 4", unit: "ops/s", ours: async4.map(\.opsPerSecond),
                   reference: c1, referenceRuns: rps, target: 0.9),
            Figure(name: "one at a time, RedisClient pool 1", unit: "ops/s", ours: async1.map(\.opsPerSecond),
                   reference: c1, referenceRuns: rps, target: 0.9),
            Figure(name: "one at a time, RedisConnection on a thread", unit: "ops/s", ours: sync.map(\.opsPerSecond),
                   reference: c1, referenceRuns: rps, target: 0.9),
            Figure(name: "pipelines of 16, RedisClient", unit: "ops/s", ours: piped,
                   reference: "redis-benchmark -c 1 -P 16", referenceRuns: pipedRef, target: 0.7),
            Figure(name: "pipelines of 16, RedisConnection on a thread", unit: "ops/s", ours: pipedSync,
                   reference: "redis-benchmark -c 1 -P 16", referenceRuns: pipedRef, target: 0.7),
            Figure(name: "\(callers) concurrent callers, RedisClient pool 4", unit: "ops/s", ours: many4,
                   reference: "redis-benchmark -c 50", referenceRuns: manyRef, target: 0.6),
            Figure(name: "\(callers) concurrent callers, RedisClient pool 1", unit: "ops/s", ours: many1,
                   reference: "redis-benchmark -c 50", referenceRuns: manyRef, target: 0.6),
        ]
        // Latency of one call at a time; redis-benchmark reports milliseconds.
        for (label, fraction, pick) in [("p50", 0.50, \ReferenceResult.p50), ("p95", 0.95, \.p95), ("p99", 0.99, \.p99)] {
            let referenceRuns = single.map { $0[keyPath: pick] * 1000 }
            figures.append(Figure(name: "one at a time \(label) latency, RedisClient pool 4", unit: "µs",
                                  ours: async4.map { percentile($0.latencies, fraction) },
                                  reference: c1, referenceRuns: referenceRuns, target: nil))
            figures.append(Figure(name: "one at a time \(label) latency, RedisConnection", unit: "µs",
                                  ours: sync.map { percentile($0.latencies, fraction) },
                                  reference: c1, referenceRuns: referenceRuns, target: nil))
        }
        // What automatic pipelining buys: the same LPUSH count on one connection, from
        // `callers` concurrent callers versus each call awaited in turn.
        figures.append(Figure(name: "auto-pipelining gain, pool 1: \(callers) callers / one at a time", unit: "×",
                              ours: zip(many1, async1).map { $0 / $1.opsPerSecond },
                              reference: nil, referenceRuns: nil, target: nil))
        return figures
    }
}
