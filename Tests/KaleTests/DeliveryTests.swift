import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import KaleWorker
import Testing

@Suite(.timeLimit(.minutes(3))) struct DeliveryTests {
    @Test func tenThousandTasksOnEightConsumersRunExactlyOnce() async throws {
        let f = KaleFixture(poolSize: 8)
        let counter = f.keys.prefix + ":runs"
        let registry = TaskRegistry()
        registry.register(CountingTask(redis: f.redis, counter: counter))
        let handles = try await f.client.enqueueBatch(CountingTask.self, (0..<10_000).map { .init(n: $0) })
        let workers = (0..<8).map { _ in f.startWorker(registry: registry, concurrency: 1) }
        let done = try await waitUntil(timeout: .seconds(120)) {
            let ran = try await f.redis.send("HLEN", counter).int
            let active = try await f.redis.send("ZCARD", f.keys.active("default")).int
            return ran == 10_000 && active == 0
        }
        for w in workers { try await w.stop() }
        #expect(done)
        let counts = try await f.runCounts(counter)
        #expect(counts.count == 10_000)
        #expect(counts.values.allSatisfy { $0 == 1 }, "every task ran exactly once")
        #expect(try await f.auditQueue("default", ids: handles.map(\.id)).isEmpty)
        let states = try await f.redis.pipeline(handles.map { RedisCommand("HGET", f.keys.task("default", $0.id), "state") })
        #expect(states.allSatisfy { $0.string == "succeeded" })
    }

    @Test func aFetchLeasesAsManyTasksAsAskedFor() async throws {
        let f = KaleFixture()
        let refs = try await f.client.enqueueBatch(name: "t.x", args: Array(repeating: .null, count: 20))
        let now = Broker.now()
        for (count, lease) in [(1, "a"), (4, "b"), (8, "c")] {
            let reply = try await f.redis.send(f.client.broker.fetch(queue: "default", worker: "w", lease: lease, count: count,
                                                                     leaseDeadline: now + 10_000, now: now))
            // Each task is four items of the reply: a fetch that stopped at three times its
            // count of items leased 3 of 4, 6 of 8 (and prefetch buffers ran a quarter short).
            #expect(Broker.leased(from: reply, queue: "default", lease: lease).count == count)
        }
        #expect(try await f.redis.send("ZCARD", f.keys.active("default")).int == 13)
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
    }

    @Test func vanishedConsumersLeaseExpiresAndTaskRunsAgain() async throws {
        let f = KaleFixture()
        let counter = f.keys.prefix + ":runs"
        let handle = try await f.client.enqueue(CountingTask.self, .init(n: 5))
        // A consumer takes a lease, starts the run and vanishes without a word.
        let now = Broker.now()
        let reply = try await f.redis.send(f.client.broker.fetch(queue: "default", worker: "ghost", lease: "g1", count: 1, leaseDeadline: now + 400, now: now))
        let leased = Broker.leased(from: reply, queue: "default", lease: "g1")
        #expect(leased.map(\.id) == [handle.id])
        #expect(try await f.redis.send(f.client.broker.startCommand(leased[0], worker: "ghost", now: now)).int == 1)
        #expect(try await handle.status()?.state == .started)
        let registry = TaskRegistry()
        registry.register(CountingTask(redis: f.redis, counter: counter))
        let start = ContinuousClock.now
        let worker = f.startWorker(registry: registry)
        #expect(try await handle.result(timeout: .seconds(10)) == 10)
        #expect(ContinuousClock.now - start < .seconds(3))
        let info = try #require(try await handle.status())
        #expect(info.attempt == 2, "the lost attempt is counted")
        #expect(try await f.runCounts(counter)[handle.id] == 1)
        try await worker.stop()
        #expect(try await f.auditQueue("default", ids: [handle.id]).isEmpty)
    }

    @Test func lostOnLastAttemptGoesDead() async throws {
        let f = KaleFixture()
        let ref = try await f.client.enqueue(name: "t", args: .null, options: .init(maxRetries: 0))
        let now = Broker.now()
        let reply = try await f.redis.send(f.client.broker.fetch(queue: "default", worker: "ghost", lease: "g1", count: 1, leaseDeadline: now - 1, now: now))
        let leased = Broker.leased(from: reply, queue: "default", lease: "g1")
        _ = try await f.redis.send(f.client.broker.startCommand(leased[0], worker: "ghost", now: now))
        let r = try await f.client.broker.reap(queue: "default")
        #expect(r.requeued == 0 && r.dead == 1 && r.lostRuns == [ref.id])
        let info = try #require(try await f.client.status(of: ref.id))
        #expect(info.state == .dead)
        #expect(info.error?.kind == .workerLost)
        #expect(try await f.auditQueue("default", ids: [ref.id]).isEmpty)
    }

    /// Defect 3 of the reliability issue: a lease that never started (a prefetch, or a fetch
    /// whose reply was lost) spends no attempt when it is reaped.
    @Test func leaseThatNeverStartedSpendsNoAttemptWhenReaped() async throws {
        let f = KaleFixture()
        let ref = try await f.client.enqueue(name: "t", args: .null, options: .init(maxRetries: 0))
        let now = Broker.now()
        _ = try await f.redis.send(f.client.broker.fetch(queue: "default", worker: "ghost", lease: "g1", count: 1, leaseDeadline: now - 1, now: now))
        let r = try await f.client.broker.reap(queue: "default")
        #expect(r.requeued == 1 && r.dead == 0 && r.lostRuns.isEmpty)
        let info = try #require(try await f.client.status(of: ref.id))
        #expect(info.state == .pending)
        #expect(info.attempt == 0)
        #expect(info.error == nil, "nothing failed")
        #expect(try await f.auditQueue("default", ids: [ref.id]).isEmpty)
    }

    @Test func delayIsHonouredWithinAHundredMilliseconds() async throws {
        let f = KaleFixture()
        let registry = TaskRegistry()
        registry.register(CountingTask(redis: f.redis, counter: f.keys.prefix + ":runs"))
        let worker = f.startWorker(registry: registry)
        for delay in [Duration.milliseconds(300), .milliseconds(700)] {
            let handle = try await f.client.enqueue(CountingTask.self, .init(n: 1), options: .init(delay: delay))
            #expect(try await handle.status()?.state == .scheduled)
            _ = try await handle.result(timeout: .seconds(5))
            let info = try #require(try await handle.status())
            let waited = info.startedAt!.timeIntervalSince(info.enqueuedAt!)
            #expect(waited >= delay.seconds - 0.005, "not before its time (waited \(waited))")
            #expect(waited <= delay.seconds + 0.1, "within 100 ms of its time (waited \(waited))")
        }
        let eta = Date().timeIntervalSince1970 + 0.4
        let byETA = try await f.client.enqueue(CountingTask.self, .init(n: 2), options: .init(eta: eta))
        _ = try await byETA.result(timeout: .seconds(5))
        let started = try #require(try await byETA.status()?.startedAt).timeIntervalSince1970
        #expect(started >= eta - 0.005 && started <= eta + 0.1)
        try await worker.stop()
    }

    @Test func priorityIsStrictWithinAQueue() async throws {
        let f = KaleFixture()
        let order = f.keys.prefix + ":order"
        var ids: [String] = []
        for (n, p) in [(1, Priority.low), (2, .normal), (3, .high), (4, .low), (5, .high), (6, .normal)] {
            ids.append(try await f.client.enqueue(CountingTask.self, .init(n: n), options: .init(priority: p)).id)
        }
        let registry = TaskRegistry()
        registry.register(CountingTask(redis: f.redis, counter: f.keys.prefix + ":runs", order: order))
        let worker = f.startWorker(registry: registry, concurrency: 1) { $0.prefetch = 0 }
        #expect(try await waitUntil { try await f.redis.send("LLEN", order).int == 6 })
        try await worker.stop()
        #expect(try await f.redis.send("LRANGE", order, 0, -1).strings == ["3", "5", "2", "6", "1", "4"])
    }

    @Test func expiredTaskIsNeverStarted() async throws {
        let f = KaleFixture()
        let counter = f.keys.prefix + ":runs"
        let expiring = try await f.client.enqueue(CountingTask.self, .init(n: 1), options: .init(expiresIn: .milliseconds(100)))
        let scheduledPastExpiry = try await f.client.enqueue(
            CountingTask.self, .init(n: 2), options: .init(delay: .milliseconds(300), expiresIn: .milliseconds(150)))
        let fresh = try await f.client.enqueue(CountingTask.self, .init(n: 3), options: .init(expiresIn: .seconds(60)))
        try await Task.sleep(for: .milliseconds(200))
        let registry = TaskRegistry()
        registry.register(CountingTask(redis: f.redis, counter: counter))
        let worker = f.startWorker(registry: registry)
        _ = try await fresh.result(timeout: .seconds(5))
        #expect(try await f.client.wait(for: expiring.id, timeout: .seconds(5)).state == .expired)
        #expect(try await f.client.wait(for: scheduledPastExpiry.id, timeout: .seconds(5)).state == .expired)
        try await worker.stop()
        let counts = try await f.runCounts(counter)
        #expect(counts[expiring.id] == nil && counts[scheduledPastExpiry.id] == nil && counts[fresh.id] == 1)
    }

    @Test func retriesFollowBackoffThenGoDead() async throws {
        let f = KaleFixture()
        let log = f.keys.prefix + ":attempts"
        let registry = TaskRegistry()
        registry.register(FlakyTask(redis: f.redis, log: log))
        let worker = f.startWorker(registry: registry)
        let options = EnqueueOptions(maxRetries: 2, backoff: .fixed(.milliseconds(250)))
        let doomed = try await f.client.enqueue(FlakyTask.self, .init(failures: 99), options: options)
        let info = try await f.client.wait(for: doomed.id, timeout: .seconds(10))
        #expect(info.state == .dead)
        #expect(info.attempt == 3, "one run plus two retries")
        #expect(info.error?.message.contains("attempt 3 fails") == true)
        let times = (try await f.redis.send("LRANGE", log, 0, -1).strings ?? []).map { Int64($0.split(separator: ":")[1])! }
        #expect(times.count == 3)
        for (a, b) in zip(times, times.dropFirst()) {
            #expect(b - a >= 250, "backoff of 250 ms respected (\(b - a) ms)")
            #expect(b - a <= 250 + 150, "retried promptly after its backoff (\(b - a) ms)")
        }
        #expect(try await f.redis.send("ZSCORE", f.keys.dead("default"), doomed.id).isNull == false)

        let recovering = try await f.client.enqueue(FlakyTask.self, .init(failures: 1), options: options)
        #expect(try await recovering.result(timeout: .seconds(10)) == "ok on attempt 2")
        let noRetries = try await f.client.enqueue(FlakyTask.self, .init(failures: 1), options: .init(maxRetries: 0))
        #expect(try await f.client.wait(for: noRetries.id, timeout: .seconds(5)).state == .dead)
        try await worker.stop()
        #expect(try await f.auditQueue("default", ids: [doomed.id, recovering.id, noRetries.id]).isEmpty)
    }

    @Test func exponentialBackoffGrowsAndIsCapped() {
        let b = Backoff.exponential(base: .milliseconds(100), max: .seconds(1), jitter: false)
        #expect(b.delay(afterAttempt: 1) == .milliseconds(100))
        #expect(b.delay(afterAttempt: 2) == .milliseconds(200))
        #expect(b.delay(afterAttempt: 4) == .milliseconds(800))
        #expect(b.delay(afterAttempt: 10) == .seconds(1))
        let jittered = Backoff.exponential(base: .milliseconds(100), max: .seconds(10), jitter: true)
        for attempt in 1...5 {
            let d = jittered.delay(afterAttempt: attempt)
            let full = Duration.milliseconds(100) * (1 << (attempt - 1))
            #expect(d >= full / 2 && d <= full)
        }
        #expect(Backoff.fixed(.seconds(3)).delay(afterAttempt: 7) == .seconds(3))
        #expect(Backoff.none.delay(afterAttempt: 7) == .zero)
    }
}
