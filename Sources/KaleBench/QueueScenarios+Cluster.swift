import Foundation
import Kale
import KaleRedis
import KaleTestSupport

extension QueueScenarios {
    static let clusterQueues = ["bench-a", "bench-b", "bench-c"]

    /// End to end on a three-master Redis Cluster that this run starts (six local nodes, one
    /// replica each), beside the same work on the single server, in interleaved runs: three
    /// queues (on three masters of the cluster), one worker with a process pool of 2 serving all three.
    func cluster() async throws -> [Figure] {
        let deployment = try ClusterDeployment()
        defer { deployment.kill() }
        var single: [Double] = [], clustered: [Double] = []
        for run in 1...runs {
            progress("cluster run \(run)/\(runs)")
            single.append(try await drainThreeQueues(on: url))
            clustered.append(try await drainThreeQueues(on: deployment.url))
        }
        return [
            Figure(name: "end to end, 3 queues, process pool of 2, 3-master cluster", unit: "tasks/s", ours: clustered,
                   reference: "one Redis", referenceRuns: single, target: nil),
        ]
    }

    /// Tasks per second from the first start to the last finish, read from the records.
    private func drainThreeQueues(on target: RedisURL) async throws -> Double {
        let prefix = freshPrefix()
        var redis = RedisConfiguration(url: target, poolSize: 4)
        redis.clientName = "kale-bench"
        let c = KaleClient(configuration: KaleConfiguration(redis: redis, keys: Keys(prefix: prefix)))
        let perQueue = drain / Self.clusterQueues.count / 1000 * 1000
        var ids: [String: [String]] = [:]
        for queue in Self.clusterQueues {
            for _ in 0..<(perQueue / 1000) {
                ids[queue, default: []] += try await c.enqueueBatch(name: "kale.noop", args: Array(repeating: Self.args, count: 1000),
                                                                    options: EnqueueOptions(queue: queue)).map(\.id)
            }
        }
        let worker = try BenchWorker(url: target, prefix: prefix, concurrency: 2, prefetch: prefetch, pool: "process",
                                     arguments: ["--no-schedules", "--queues", Self.clusterQueues.joined(separator: ",")])
        try await worker.waitUntilReady(c)
        for queue in Self.clusterQueues { try await waitDrained(c, queue: queue) }
        worker.stop()
        var first = Int64.max, last = Int64.min
        for (queue, queueIDs) in ids {
            for chunk in stride(from: 0, to: queueIDs.count, by: 1000) {
                let replies = try await c.redis.pipeline(queueIDs[chunk..<min(chunk + 1000, queueIDs.count)].map {
                    RedisCommand("HMGET", c.configuration.keys.task(queue, $0), "started_at", "finished_at")
                })
                for r in replies {
                    let f = r.strings ?? []
                    guard f.count == 2, let s = Int64(f[0]), let e = Int64(f[1]) else { throw BenchError("a task did not finish: \(f)") }
                    first = min(first, s)
                    last = max(last, e)
                }
            }
        }
        if !target.isCluster { try await clean(prefix, c) }
        let total = ids.values.map(\.count).reduce(0, +)
        return Double(total) / (Double(max(last - first, 1)) / 1000)
    }
}
