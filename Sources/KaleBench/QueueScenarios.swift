import Foundation
import Glibc
import Kale
import KaleRedis

/// The measurements behind `kale-bench queue`. Every run gets its own key prefix, deleted
/// afterwards, so runs never see each other's tasks.
struct QueueScenarios {
    let url: RedisURL
    let tool: RedisBenchmarkTool
    let runs: Int
    let enqueues: Int
    let drain: Int
    let roundTrips: Int
    /// Nil: the daemon's default prefetch.
    let prefetch: Int?

    /// Arguments padded so that the whole message is about 300 bytes, like the reference's payload.
    static let args: JSONValue = .object(["pad": .string(String(repeating: "x", count: 120))])

    func progress(_ text: String) { FileHandle.standardError.write(Data("… \(text)\n".utf8)) }

    func client(_ prefix: String, poolSize: Int = 4, replySpin: Duration = .zero, observed: Bool = true,
                allEvents: Bool = false, format: (any MessageFormat)? = nil) -> KaleClient {
        var redis = RedisConfiguration(url: url, poolSize: poolSize, replySpin: replySpin)
        redis.clientName = "kale-bench"
        var configuration = KaleConfiguration(redis: redis, keys: Keys(prefix: prefix), history: observed,
                                              eventStreamLength: observed ? 10_000 : 0, recordAllEvents: allEvents)
        if let format { configuration.format = format }
        return KaleClient(configuration: configuration)
    }

    func freshPrefix() -> String { "bench-\(UUID().uuidString.prefix(8).lowercased())" }

    /// Deletes every key under `prefix` (and the queue registry entry).
    func clean(_ prefix: String, _ client: KaleClient) async throws {
        let script = "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('UNLINK', k) n = n + 1 end return n"
        _ = try await client.redis.send("EVAL", script, 0, prefix + ":*")
    }

    /// The encoded size of one benchmark message.
    func messageSize() throws -> Int {
        let envelope = Envelope(id: UUID().uuidString.lowercased(), name: "kale.noop", queue: "bench", args: Self.args,
                                enqueuedAt: Broker.now())
        return try KaleJSONFormat().encode(envelope).count
    }

    // MARK: Enqueue

    func enqueue() async throws -> [Figure] {
        let size = try messageSize()
        let payload = String(repeating: "x", count: size)
        var single: [Double] = [], singleRef: [Double] = [], scripted: [Double] = [], scriptRef: [Double] = [], spun: [Double] = []
        var concurrent: [Double] = [], concurrentRef: [Double] = []
        var batch: [Double] = [], batchRef: [Double] = []
        for run in 1...runs {
            progress("enqueue run \(run)/\(runs)")
            let prefix = freshPrefix()
            let c = client(prefix)
            let options = EnqueueOptions(queue: "bench")
            single.append(try await oneAtATime(c) { _ in options })
            // A caller-chosen id takes the enqueue script (it checks for an existing record).
            let withIDs = (0...enqueues).map { _ in
                var o = options
                o.id = UUID().uuidString.lowercased()
                return o
            }
            scripted.append(try await oneAtATime(c) { withIDs[$0] })
            let spinning = client(prefix, replySpin: Measurements.replySpin)
            spun.append(try await oneAtATime(spinning) { _ in options })
            spinning.close()
            let listKey = prefix + ":ref"
            singleRef.append(try await onThread { [tool, enqueues] in
                try tool.run(clients: 1, requests: enqueues, pipeline: 1, command: ["LPUSH", listKey, payload]).rps })
            // The enqueue script (loaded above) run by redis-benchmark: what the server allows
            // one connection for that work, with no client in the way.
            let script = try scriptCommand(c)
            scriptRef.append(try await onThread { [tool, enqueues] in
                try tool.run(clients: 1, requests: enqueues, pipeline: 1, command: script, randomRange: 100_000_000).rps })

            let total = 4 * enqueues
            let callers = 100
            var start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<callers {
                    let share = total / callers + (i < total % callers ? 1 : 0)
                    group.addTask { for _ in 0..<share { _ = try await c.enqueue(name: "kale.noop", args: Self.args, options: options) } }
                }
                try await group.waitForAll()
            }
            concurrent.append(Double(total) / (ContinuousClock.now - start).seconds)
            concurrentRef.append(try await onThread { [tool] in
                try tool.run(clients: 50, requests: total, pipeline: 1, command: ["LPUSH", listKey, payload]).rps })

            let args = Array(repeating: Self.args, count: 1000)
            start = .now
            for _ in 0..<(total / 1000) { _ = try await c.enqueueBatch(name: "kale.noop", args: args, options: options) }
            batch.append(Double(total / 1000 * 1000) / (ContinuousClock.now - start).seconds)
            batchRef.append(try await onThread { [tool] in
                try tool.run(clients: 1, requests: total, pipeline: 16, command: ["LPUSH", listKey, payload]).rps })
            try await clean(prefix, c)
        }
        return [
            Figure(name: "enqueue one at a time (\(size) B message)", unit: "ops/s", ours: single,
                   reference: "redis-benchmark -c 1 LPUSH \(size) B", referenceRuns: singleRef, target: 0.9),
            Figure(name: "enqueue one at a time, caller-chosen ids (script)", unit: "ops/s", ours: scripted,
                   reference: "redis-benchmark -c 1 EVALSHA enqueue", referenceRuns: scriptRef, target: nil),
            Figure(name: "enqueue one at a time, replySpin 150 µs", unit: "ops/s", ours: spun,
                   reference: "redis-benchmark -c 1 LPUSH \(size) B", referenceRuns: singleRef, target: 0.9),
            Figure(name: "enqueue, 100 concurrent callers", unit: "ops/s", ours: concurrent,
                   reference: "redis-benchmark -c 50 LPUSH", referenceRuns: concurrentRef, target: 0.6),
            Figure(name: "enqueueBatch, 1000 per call", unit: "ops/s", ours: batch,
                   reference: "redis-benchmark -c 1 -P 16 LPUSH", referenceRuns: batchRef, target: 0.6),
        ]
    }

    /// Tasks per second of `enqueues` enqueues awaited one after another, the options of the
    /// i-th from `options(i)`; one more call first, with `options(enqueues)`, registers the
    /// queue and loads any script.
    private func oneAtATime(_ c: KaleClient, _ options: (Int) -> EnqueueOptions) async throws -> Double {
        _ = try await c.enqueue(name: "kale.noop", args: Self.args, options: options(enqueues))
        let start = ContinuousClock.now
        for i in 0..<enqueues { _ = try await c.enqueue(name: "kale.noop", args: Self.args, options: options(i)) }
        return Double(enqueues) / (ContinuousClock.now - start).seconds
    }

    /// Kale's enqueue of a benchmark task as redis-benchmark arguments, with the task id (and
    /// so its key) made of two `__rand_int__` for the tool to vary (one would repeat within a run).
    func scriptCommand(_ c: KaleClient) throws -> [String] {
        let envelope = Envelope(id: "__rand_int__-__rand_int__", name: "kale.noop", queue: "bench", args: Self.args, enqueuedAt: Broker.now())
        let message = try KaleJSONFormat().encode(envelope)
        let command = c.broker.enqueueCommand(envelope, message: message, uniqueTTL: nil, now: envelope.enqueuedAt)
        return command.arguments.map { String(decoding: $0, as: UTF8.self) }
    }
}
