import Foundation
import KaleRedis

/// Runs each group of figures: per run, ours first and then redis-benchmark, so that a noisy
/// neighbour hurts both alike; the list is emptied between all of them.
struct Measurements {
    let load: RedisLoad
    let tool: RedisBenchmarkTool
    let url: RedisURL
    let runs: Int
    let requests: Int
    let callers: Int
    /// The command line redis-benchmark repeats: the same LPUSH of the same payload.
    let reference: [String]

    private func configuration(_ poolSize: Int, replySpin: Duration = .zero) -> RedisConfiguration {
        RedisConfiguration(url: url, poolSize: poolSize, replySpin: replySpin)
    }

    /// The reply spin measured beside the default (none); see RedisConfiguration.replySpin.
    static let replySpin = Duration.microseconds(150)

    private func progress(_ text: String) {
        FileHandle.standardError.write(Data("… \(text)\n".utf8))
    }

    private func referenceRun(clients: Int, requests: Int, pipeline: Int) async throws -> ReferenceResult {
        let (tool, command) = (tool, reference)
        return try await onThread { try tool.run(clients: clients, requests: requests, pipeline: pipeline, command: command) }
    }

    /// One LPUSH at a time: throughput and latency, pools of 4 and 1 and a synchronous connection.
    func oneAtATime() async throws -> [Figure] {
        let pool4 = RedisClient(configuration: configuration(4))
        let pool1 = RedisClient(configuration: configuration(1))
        let spinning = RedisClient(configuration: configuration(4, replySpin: Self.replySpin))
        defer {
            pool4.close()
            pool1.close()
            spinning.close()
        }
        var async4: [RedisLoad.Outcome] = [], async1: [RedisLoad.Outcome] = [], sync: [RedisLoad.Outcome] = []
        var spun: [RedisLoad.Outcome] = []
        var single: [ReferenceResult] = []
        for run in 1...runs {
            progress("run \(run)/\(runs): one at a time")
            _ = try await load.oneAtATime(pool4, count: min(2000, requests))
            _ = try await load.oneAtATime(pool1, count: min(2000, requests))
            _ = try await load.oneAtATime(spinning, count: min(2000, requests))
            try await load.clean(pool1)
            async4.append(try await load.oneAtATime(pool4, count: requests))
            try await load.clean(pool1)
            async1.append(try await load.oneAtATime(pool1, count: requests))
            try await load.clean(pool1)
            spun.append(try await load.oneAtATime(spinning, count: requests))
            try await load.clean(pool1)
            sync.append(try await load.oneAtATime(configuration(1), count: requests))
            try await load.clean(pool1)
            single.append(try await referenceRun(clients: 1, requests: requests, pipeline: 1))
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
            Figure(name: "one at a time, RedisClient pool 4, replySpin 150 µs", unit: "ops/s", ours: spun.map(\.opsPerSecond),
                   reference: c1, referenceRuns: rps, target: 0.9),
        ]
        // redis-benchmark reports latency in milliseconds.
        for (label, fraction, pick) in [("p50", 0.50, \ReferenceResult.p50), ("p95", 0.95, \.p95), ("p99", 0.99, \.p99)] {
            let referenceRuns = single.map { $0[keyPath: pick] * 1000 }
            figures.append(Figure(name: "one at a time \(label) latency, RedisClient pool 4", unit: "µs",
                                  ours: async4.map { percentile($0.latencies, fraction) },
                                  reference: c1, referenceRuns: referenceRuns, target: nil))
            figures.append(Figure(name: "one at a time \(label) latency, pool 4, replySpin 150 µs", unit: "µs",
                                  ours: spun.map { percentile($0.latencies, fraction) },
                                  reference: c1, referenceRuns: referenceRuns, target: nil))
            figures.append(Figure(name: "one at a time \(label) latency, RedisConnection", unit: "µs",
                                  ours: sync.map { percentile($0.latencies, fraction) },
                                  reference: c1, referenceRuns: referenceRuns, target: nil))
        }
        return figures
    }

    /// Explicit pipelines of 16, through the pool and through a synchronous connection.
    func pipelines() async throws -> [Figure] {
        let client = RedisClient(configuration: configuration(4))
        defer { client.close() }
        let count = 4 * requests
        var piped: [Double] = [], pipedSync: [Double] = [], reference: [Double] = []
        for run in 1...runs {
            progress("run \(run)/\(runs): pipelines of 16")
            _ = try await load.pipelined(client, count: min(2000, count), depth: 16)
            try await load.clean(client)
            piped.append(try await load.pipelined(client, count: count, depth: 16).opsPerSecond)
            try await load.clean(client)
            pipedSync.append(try await load.pipelined(configuration(1), count: count, depth: 16).opsPerSecond)
            try await load.clean(client)
            reference.append(try await referenceRun(clients: 1, requests: count, pipeline: 16).rps)
            try await load.clean(client)
        }
        let p16 = "redis-benchmark -c 1 -P 16"
        return [
            Figure(name: "pipelines of 16, RedisClient", unit: "ops/s", ours: piped,
                   reference: p16, referenceRuns: reference, target: 0.7),
            Figure(name: "pipelines of 16, RedisConnection on a thread", unit: "ops/s", ours: pipedSync,
                   reference: p16, referenceRuns: reference, target: 0.7),
        ]
    }

    /// Many concurrent callers on pools of 4 and 1, and what automatic pipelining gains on
    /// one connection over the same calls awaited one at a time.
    func concurrent() async throws -> [Figure] {
        let pool4 = RedisClient(configuration: configuration(4))
        let pool1 = RedisClient(configuration: configuration(1))
        defer {
            pool4.close()
            pool1.close()
        }
        let count = 4 * requests
        var many4: [Double] = [], many1: [Double] = [], sequential1: [Double] = [], reference: [Double] = []
        for run in 1...runs {
            progress("run \(run)/\(runs): \(callers) concurrent callers")
            _ = try await load.concurrent(pool4, count: min(2000, count), callers: callers)
            _ = try await load.concurrent(pool1, count: min(2000, count), callers: callers)
            try await load.clean(pool1)
            many4.append(try await load.concurrent(pool4, count: count, callers: callers).opsPerSecond)
            try await load.clean(pool1)
            many1.append(try await load.concurrent(pool1, count: count, callers: callers).opsPerSecond)
            try await load.clean(pool1)
            // The same number of calls as one caller would make them: fewer, or this takes long.
            sequential1.append(try await load.oneAtATime(pool1, count: requests).opsPerSecond)
            try await load.clean(pool1)
            reference.append(try await referenceRun(clients: 50, requests: count, pipeline: 1).rps)
            try await load.clean(pool1)
        }
        let c50 = "redis-benchmark -c 50"
        return [
            Figure(name: "\(callers) concurrent callers, RedisClient pool 4", unit: "ops/s", ours: many4,
                   reference: c50, referenceRuns: reference, target: 0.6),
            Figure(name: "\(callers) concurrent callers, RedisClient pool 1", unit: "ops/s", ours: many1,
                   reference: c50, referenceRuns: reference, target: 0.6),
            Figure(name: "auto-pipelining gain, pool 1: \(callers) callers / awaited in turn", unit: "×",
                   ours: zip(many1, sequential1).map { $0 / $1 }, reference: nil, referenceRuns: nil, target: nil),
        ]
    }
}
