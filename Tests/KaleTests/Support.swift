import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import KaleWorker
import Testing

/// Counts its runs per task id in Redis, so a test can prove each task ran exactly once.
struct CountingTask: TaskDefinition {
    static let name = "test.count"
    struct Input: Codable, Sendable { var n: Int }
    let redis: RedisClient
    let counter: String
    /// Optional: a list that records the order of runs.
    var order: String? = nil

    func run(_ input: Input, context: TaskContext) async throws -> Int {
        try await redis.send("HINCRBY", counter, context.id, 1)
        if let order { try await redis.send("RPUSH", order, input.n) }
        return input.n * 2
    }
}

/// Fails every time, recording when each attempt ran.
struct FlakyTask: TaskDefinition {
    static let name = "test.flaky"
    struct Input: Codable, Sendable { var failures: Int }
    let redis: RedisClient
    let log: String

    func run(_ input: Input, context: TaskContext) async throws -> String {
        try await redis.send("RPUSH", log, "\(context.attempt):\(Broker.now())")
        if context.attempt <= input.failures { throw TestFailure(message: "attempt \(context.attempt) fails on purpose") }
        return "ok on attempt \(context.attempt)"
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// An inline worker running in this process until `stop()`.
struct RunningWorker {
    let worker: Worker
    let task: Task<Void, any Error>

    func stop(_ mode: Worker.ShutdownMode = .warm) async throws {
        worker.shutdown(mode)
        try await task.value
    }
}

extension KaleFixture {
    func startWorker(
        registry: TaskRegistry, queues: [String] = ["default"], concurrency: Int = 2, kale: KaleConfiguration? = nil,
        tweak: (inout WorkerConfiguration) -> Void = { _ in }
    ) -> RunningWorker {
        var config = WorkerConfiguration(
            queues: queues.map { ($0, 1) }, concurrency: concurrency, pool: .inline, lease: .seconds(5),
            gracePeriod: .seconds(5), reaperInterval: .milliseconds(200), name: "test")
        tweak(&config)
        let worker = Worker(configuration: config, kale: kale ?? configuration, registry: registry)
        return RunningWorker(worker: worker, task: Task { try await worker.run() })
    }
}
