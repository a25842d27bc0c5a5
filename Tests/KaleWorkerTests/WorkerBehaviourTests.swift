import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import KaleWorker
import Testing

/// Worker behaviour that needs no child processes: an inline worker in this process.
@Suite(.timeLimit(.minutes(3))) struct WorkerBehaviourTests {
    private func inlineWorker(_ f: KaleFixture, queues: [(String, Int)], strict: Bool, concurrency: Int = 1,
                              prefetch: Int = 0, registry: TaskRegistry) -> (Worker, Task<Void, any Error>) {
        let config = WorkerConfiguration(queues: queues, strictOrder: strict, concurrency: concurrency, pool: .inline,
                                         prefetch: prefetch, lease: .seconds(5), reaperInterval: .milliseconds(200), name: "wb")
        let worker = Worker(configuration: config, kale: f.configuration, registry: registry)
        return (worker, Task { try await worker.run() })
    }

    private func recorder(_ f: KaleFixture, _ list: String) -> TaskRegistry {
        let registry = TaskRegistry()
        let redis = f.redis
        registry.register(TaskHandler(name: "rec") { args, context in
            try await redis.send("RPUSH", list, context.queue)
            return args
        })
        return registry
    }

    @Test func strictQueueOrderDrainsEarlierQueuesFirst() async throws {
        let f = KaleFixture()
        let list = f.keys.prefix + ":order"
        _ = try await f.client.enqueueBatch(name: "rec", args: Array(repeating: .null, count: 5), options: .init(queue: "low"))
        _ = try await f.client.enqueueBatch(name: "rec", args: Array(repeating: .null, count: 5), options: .init(queue: "high"))
        let (worker, task) = inlineWorker(f, queues: [("high", 1), ("low", 1)], strict: true, registry: recorder(f, list))
        #expect(try await waitUntil { try await f.redis.send("LLEN", list).int == 10 })
        worker.shutdown(.warm)
        try await task.value
        #expect(try await f.redis.send("LRANGE", list, 0, -1).strings == Array(repeating: "high", count: 5) + Array(repeating: "low", count: 5))
    }

    @Test func weightedQueuesShareTheWorkerByWeight() async throws {
        let f = KaleFixture()
        let list = f.keys.prefix + ":order"
        _ = try await f.client.enqueueBatch(name: "rec", args: Array(repeating: .null, count: 400), options: .init(queue: "a"))
        _ = try await f.client.enqueueBatch(name: "rec", args: Array(repeating: .null, count: 400), options: .init(queue: "b"))
        let (worker, task) = inlineWorker(f, queues: [("a", 3), ("b", 1)], strict: false, registry: recorder(f, list))
        #expect(try await waitUntil { (try await f.redis.send("LLEN", list).int ?? 0) >= 200 })
        worker.shutdown(.warm)
        try await task.value
        let first = (try await f.redis.send("LRANGE", list, 0, 199).strings ?? [])
        let a = first.filter { $0 == "a" }.count
        // Expected 150 of 200 for weights 3:1; allow for randomness.
        #expect(a >= 120 && a <= 180, "queue a got \(a) of the first 200 fetches")
        #expect(first.contains("b"), "the lighter queue is not starved")
    }

    @Test func manyWorkersPromoteEachDueTaskExactlyOnce() async throws {
        let f = KaleFixture(poolSize: 8)
        let counter = f.keys.prefix + ":runs"
        let registry = TaskRegistry()
        let redis = f.redis
        registry.register(TaskHandler(name: "count") { _, context in
            try await redis.send("HINCRBY", counter, context.id, 1)
            return .null
        })
        let workers = (0..<4).map { _ in inlineWorker(f, queues: [("default", 1)], strict: true, concurrency: 2, prefetch: 2, registry: registry) }
        let refs = try await f.client.enqueueBatch(name: "count", args: Array(repeating: .null, count: 300), options: .init(delay: .milliseconds(300)))
        #expect(try await waitUntil(timeout: .seconds(20)) { try await f.redis.send("HLEN", counter).int == 300 })
        try await Task.sleep(for: .milliseconds(300))
        for (w, t) in workers {
            w.shutdown(.warm)
            try await t.value
        }
        let counts = (try await f.redis.send("HGETALL", counter).hash ?? [:]).values.map { Int($0) }
        #expect(counts.count == 300 && counts.allSatisfy { $0 == 1 })
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
    }

    @Test func deadSetIsCappedBySizeAndOldEntriesBecomeFailed() async throws {
        let f = KaleFixture { $0.deadSetMaxSize = 5; $0.resultTTL = .seconds(60) }
        let registry = TaskRegistry()
        DiagnosticTasks.register(in: registry)
        let (worker, task) = inlineWorker(f, queues: [("default", 1)], strict: true, registry: registry)
        var refs: [KaleClient.TaskRef] = []
        for i in 0..<8 {
            let ref = try await f.client.enqueue(name: "kale.fail", args: .object(["message": .string("boom \(i)")]), options: .init(maxRetries: 0))
            _ = try await f.client.wait(for: ref.id, timeout: .seconds(5))
            refs.append(ref)
            // The dead set is ordered by the millisecond of death (ties by id); a round trip
            // can now take under a millisecond, so keep the deaths in distinct milliseconds.
            try await Task.sleep(for: .milliseconds(3))
        }
        worker.shutdown(.warm)
        try await task.value
        let dead = try await f.redis.send("ZRANGE", f.keys.dead("default"), 0, -1).strings ?? []
        #expect(dead == refs.suffix(5).map(\.id), "the newest five are kept")
        for ref in refs.prefix(3) {
            let info = try #require(try await f.client.status(of: ref.id))
            #expect(info.state == .failed)
            #expect(info.error?.message.contains("boom") == true, "the last error is kept")
            let ttl = try await f.redis.send("PTTL", f.keys.task("default", ref.id)).int ?? -1
            #expect(ttl > 0 && ttl <= 60_000)
        }
        for ref in refs.suffix(5) {
            #expect(try await f.client.status(of: ref.id)?.state == .dead)
            #expect(try await f.redis.send("PTTL", f.keys.task("default", ref.id)).int == -1, "dead records do not expire")
        }
    }

    @Test func shutdownsThatRaceAFetchStillEndAndLoseNothing() async throws {
        let f = KaleFixture()
        let registry = TaskRegistry()
        DiagnosticTasks.register(in: registry)
        let refs = try await f.client.enqueueBatch(name: "kale.noop", args: Array(repeating: .null, count: 3000))
        // Stop again and again at random moments; a fetch that lands after the stop began
        // must hand its tasks back rather than leave the worker waiting for them forever.
        for round in 0..<60 {
            let (worker, task) = inlineWorker(f, queues: [("default", 1)], strict: true, concurrency: 1, prefetch: round % 3, registry: registry)
            try await Task.sleep(for: .milliseconds(Int.random(in: 2...20)))
            let start = ContinuousClock.now
            worker.shutdown(.warm)
            try await task.value
            #expect(ContinuousClock.now - start < .seconds(5), "round \(round) stopped promptly")
        }
        #expect(try await f.redis.send("ZCARD", f.keys.active("default")).int == 0)
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
    }

    @Test func heartbeatDescribesTheWorkerAndItsRunningTasks() async throws {
        let f = KaleFixture()
        let registry = TaskRegistry()
        DiagnosticTasks.register(in: registry)
        let (worker, task) = inlineWorker(f, queues: [("default", 1)], strict: true, concurrency: 2, registry: registry)
        let ref = try await f.client.enqueue(name: "kale.sleep", args: .object(["ms": .number(6000)]))
        let entry = try await waitUntilValue { () -> [String: String]? in
            let h = try await f.redis.send("HGETALL", f.keys.worker(worker.id)).hash ?? [:]
            return (h["running"] ?? "").contains(ref.id) ? h : nil
        }
        let fields = try #require(entry)
        #expect(fields["pid"] == String(getpid()))
        #expect(fields["pool"] == "inline" && fields["concurrency"] == "2" && fields["queues"] == "default=1")
        #expect(fields["host"] != nil && fields["started_at"] != nil && fields["version"] != nil)
        let ttl = try await f.redis.send("PTTL", f.keys.worker(worker.id)).int ?? -1
        #expect(ttl > 0 && ttl <= 5000, "the entry expires one lease after the last beat")
        _ = try await f.client.cancel(id: ref.id)
        worker.shutdown(.warm)
        try await task.value
        #expect(try await f.redis.send("EXISTS", f.keys.worker(worker.id)).int == 0, "a clean exit deregisters")
        #expect(try await f.redis.send("ZSCORE", f.keys.workers, worker.id).isNull)
    }
}

/// Polls `produce` until it returns a value or the timeout passes.
func waitUntilValue<T>(timeout: Duration = .seconds(10), _ produce: () async throws -> T?) async throws -> T? {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let v = try await produce() { return v }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await produce()
}
