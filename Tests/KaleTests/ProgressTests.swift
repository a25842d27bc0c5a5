import Foundation
@testable import Kale
import KaleRedis
import KaleTestSupport
import KaleWorker
import Testing

/// Reports progress as fast as it can, then holds (ignoring stop requests) for `holdMs`.
struct ChattyTask: TaskDefinition {
    static let name = "test.chatty"
    struct Input: Codable, Sendable {
        var reports: Int
        var holdMs: Int
    }

    func run(_ input: Input, context: TaskContext) async throws -> Int {
        for i in 1...input.reports { await context.reportProgress(Double(i) / Double(input.reports), message: "step \(i)") }
        let end = ContinuousClock.now + .milliseconds(input.holdMs)
        while ContinuousClock.now < end {
            for i in 1...10 { await context.reportProgress(Double(i) / 10) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return input.reports
    }
}

/// Progress is written per lease, latest value last, and only while the lease is held.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ProgressTests {
    @Test func aRunThatLostItsLeaseWritesNoProgressOverTheNextLease() async throws {
        let f = KaleFixture()
        let registry = TaskRegistry()
        registry.register(ChattyTask())
        let worker = f.startWorker(registry: registry, concurrency: 1) { $0.lease = .seconds(30); $0.prefetch = 0 }
        let handle = try await f.client.enqueue(ChattyTask.self, .init(reports: 10, holdMs: 4000))
        #expect(try await waitUntil { (try await handle.status()?.progress) != nil })
        // Take the lease away, as a reaper would after a hang, and give it to another worker.
        let q = "default"
        _ = try await f.redis.send("ZADD", f.keys.active(q), 1, handle.id)
        _ = try await f.client.broker.reap(queue: q)
        let fetch = f.client.broker.fetch(queue: q, worker: "other-worker", lease: "x1", count: 1,
                                          leaseDeadline: Broker.now() + 60_000, now: Broker.now())
        _ = try await f.redis.send(fetch)
        #expect(try await f.redis.send("HGET", f.keys.task(q, handle.id), "worker").string == "other-worker")
        // The old run goes on reporting (it ignores stops) for seconds; none of it may land.
        try await Task.sleep(for: .milliseconds(800))
        #expect(try await f.redis.send("HGET", f.keys.task(q, handle.id), "progress").string == nil,
                "the lost run wrote progress into the other worker's lease")
        try await worker.stop(.cold)
    }
}
