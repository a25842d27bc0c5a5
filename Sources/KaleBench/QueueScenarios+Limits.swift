import Foundation
import Kale
import KaleRedis

extension QueueScenarios {
    /// What a limit costs when it never binds: the end-to-end drain of no-ops with a rate
    /// limit of 1,000,000/s (burst 1,000) and with a concurrency cap of 1,000, each beside
    /// the same drain without limits, in interleaved runs. Every fetch reads the queue's
    /// control hash either way; a limit adds the GCRA step (or the permit check) per task.
    func limits() async throws -> [Figure] {
        var none: [Double] = [], rate: [Double] = [], cap: [Double] = []
        var redisNone: [Double] = [], redisRate: [Double] = [], redisCap: [Double] = []
        for run in 1...runs {
            for mode in ["none", "rate", "cap"] {
                progress("limits \(mode) run \(run)/\(runs)")
                let prefix = freshPrefix()
                let c = client(prefix)
                switch mode {
                case "rate": try await c.setLimits(TaskLimits(rate: .init(count: 1_000_000, period: .seconds(1)), burst: 1000), for: "kale.noop")
                case "cap": try await c.setLimits(TaskLimits(concurrency: 1000), for: "kale.noop")
                default: break
                }
                var ids: [String] = []
                for _ in 0..<(drain / 1000) {
                    ids += try await c.enqueueBatch(name: "kale.noop", args: Array(repeating: .null, count: 1000),
                                                    options: .init(queue: "bench")).map(\.id)
                }
                let worker = try BenchWorker(url: url, prefix: prefix, concurrency: 2, prefetch: prefetch, pool: "process",
                                             arguments: ["--no-schedules"])
                try await worker.waitUntilReady(c)
                let redisBefore = try await redisCPU(c)
                try await waitDrained(c)
                let redisPerTask = (try await redisCPU(c) - redisBefore) * 1_000_000 / Double(ids.count)
                worker.stop()
                let throughput = Double(ids.count) / (try await span(c, ids: ids)).seconds
                let limited = try await c.redis.send("HLEN", c.configuration.keys.control("bench")).int ?? 0
                if mode != "none", limited < 2 { throw BenchError("the worker did not copy the limit into the queue") }
                switch mode {
                case "rate": rate.append(throughput); redisRate.append(redisPerTask)
                case "cap": cap.append(throughput); redisCap.append(redisPerTask)
                default: none.append(throughput); redisNone.append(redisPerTask)
                }
                try await c.clearLimits(for: "kale.noop")
                try await clean(prefix, c)
            }
        }
        return [
            Figure(name: "end to end, process pool of 2: a rate limit that never binds (1M/s)", unit: "tasks/s", ours: rate,
                   reference: "no limits", referenceRuns: none, target: 0.9),
            Figure(name: "end to end, process pool of 2: a concurrency cap that never binds (1000)", unit: "tasks/s", ours: cap,
                   reference: "no limits", referenceRuns: none, target: 0.9),
            Figure(name: "Redis CPU per task: rate limit", unit: "µs", ours: redisRate, reference: "no limits",
                   referenceRuns: redisNone, target: nil),
            Figure(name: "Redis CPU per task: concurrency cap", unit: "µs", ours: redisCap, reference: "no limits",
                   referenceRuns: redisNone, target: nil),
        ]
    }
}
