import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// Rate limits, concurrency caps and pause, held fleet-wide by real worker daemons.
@Suite(.serialized, .timeLimit(.minutes(4))) struct FlowControlTests {
    static func workers(_ n: Int, _ server: RedisServer, _ f: KaleFixture, lease: String = "15s") async throws -> [WorkerDaemon] {
        let workers = try (0..<n).map { _ in
            try WorkerDaemon(url: server.url, prefix: f.keys.prefix, arguments: ["--diagnostics", "--lease", lease, "--no-schedules"],
                             concurrency: 2)
        }
        for w in workers { try await w.waitUntilReady(f) }
        return workers
    }

    static func records(_ refs: [KaleClient.TaskRef], _ f: KaleFixture) async throws -> [TaskInfo] {
        var out: [TaskInfo] = []
        for r in refs { if let info = try await f.client.status(of: r.id, queue: r.queue) { out.append(info) } }
        return out
    }

    @Test func rateLimitSpreadsStartsOverTheFleetWithoutSpendingAttempts() async throws {
        let server = try RedisServer()
        defer { server.kill() }
        let f = KaleFixture(server: server)
        let burst = 5
        try await f.client.setLimits(TaskLimits(rate: try .init(parsing: "50/s"), burst: burst), for: "kale.noop")
        let workers = try await Self.workers(2, server, f)
        let refs = try await f.client.enqueueBatch(name: "kale.noop", args: Array(repeating: .object([:]), count: 500))
        let last = try #require(refs.last)
        #expect(await waitUntil(timeout: .seconds(5)) {
            (try? await f.client.status(of: last.id, queue: "default"))?.deferredBy == "rate"
        }, "a held-back task says why")
        #expect(await ChaosTests.allSucceeded(refs, f, timeout: .seconds(60)))
        #expect(try await f.client.status(of: last.id, queue: "default")?.deferredBy == nil)

        let infos = try await Self.records(refs, f)
        let starts = infos.compactMap(\.startedAt).map(\.timeIntervalSince1970).sorted()
        #expect(starts.count == 500)
        let span = (starts.last ?? 0) - (starts.first ?? 0)
        // 500 starts at 50/s, the first `burst` at once: (500 - burst) / 50 s after the first.
        let expected = Double(500 - burst) / 50
        print("rate limit 50/s burst \(burst): 500 starts over \(String(format: "%.2f", span)) s (expected \(expected) s)")
        #expect(abs(span - expected) <= expected * 0.05, "the run takes \(expected) s ± 5%, took \(span) s")
        var busiest = 0
        var j = 0
        for i in starts.indices {
            while j < starts.count, starts[j] < starts[i] + 1.0 { j += 1 }
            busiest = max(busiest, j - i)
        }
        print("busiest 1-s window: \(busiest) starts")
        #expect(busiest <= 50 + burst, "no 1-second window holds more than 50 + burst starts")
        #expect(infos.allSatisfy { $0.attempt == 1 }, "a deferral spends no attempt")
        #expect(try await ChaosTests.nothingLeft(refs, f).isEmpty)
        for w in workers { #expect(await w.stop() == 0) }
    }

    @Test func concurrencyCapHoldsAcrossWorkersAndRecoversFromKill() async throws {
        let server = try RedisServer()
        defer { server.kill() }
        let f = KaleFixture(server: server)
        try await f.client.setLimits(TaskLimits(concurrency: 2), for: "kale.sleep")
        var workers = try await Self.workers(3, server, f, lease: "2s")
        let refs = try await f.client.enqueueBatch(name: "kale.sleep", args: Array(repeating: .object(["ms": .number(200)]), count: 24))
        #expect(await ChaosTests.allSucceeded(refs, f, timeout: .seconds(60)))
        let runs = try await Self.records(refs, f).compactMap { i in i.startedAt.flatMap { s in i.finishedAt.map { (s, $0) } } }
        let peak = Self.peakOverlap(runs)
        print("concurrency cap 2 on 3 workers x 2 children: peak \(peak) running at once over \(runs.count) runs")
        #expect(runs.count == 24 && peak == 2, "never more than 2 at once, and the cap is used")

        // Kill -9 the worker holding permits: its permits come back within lease + 2 s.
        let long = try await f.client.enqueueBatch(name: "kale.sleep", args: Array(repeating: .object(["ms": .number(4000)]), count: 4))
        var holders: [String] = []
        #expect(await waitUntil(timeout: .seconds(10)) {
            holders = (try? await f.redis.send("ZRANGE", f.keys.limitStatePrefix("default") + "permits:kale.sleep", 0, -1).strings) ?? []
            return holders.count == 2
        })
        let holder = try #require(try await f.client.status(of: holders[0], queue: "default")?.worker)
        var victim: WorkerDaemon?
        for w in workers where try await w.workerID(f) == holder { victim = w }
        let killed = try #require(victim)
        killed.signal(SIGKILL)
        let killedAt = Date()
        _ = await killed.waitForExit(timeout: .seconds(5))
        workers.removeAll { $0 === killed }
        // Whichever long task starts next after the kill proves a permit came back.
        var recovered: Date?
        #expect(await waitUntil(timeout: .seconds(20)) {
            let starts = ((try? await Self.records(long, f)) ?? []).compactMap(\.startedAt).filter { $0 > killedAt }
            recovered = starts.min()
            return recovered != nil
        })
        let delay = (recovered ?? .distantFuture).timeIntervalSince(killedAt)
        print("permits back \(String(format: "%.2f", delay)) s after kill -9 (lease 2 s)")
        #expect(delay <= 4.0, "the cap recovers within lease + 2 s")
        #expect(await ChaosTests.allSucceeded(long, f, timeout: .seconds(60)))
        let longRuns = try await Self.records(long, f).compactMap { i in i.startedAt.flatMap { s in i.finishedAt.map { (s, $0) } } }
        #expect(Self.peakOverlap(longRuns) <= 2)
        #expect(try await ChaosTests.nothingLeft(refs + long, f).isEmpty)
        let permits = try await f.redis.send("ZCARD", f.keys.limitStatePrefix("default") + "permits:kale.sleep").int
        #expect(permits == 0, "no permit leaks")
        for w in workers { #expect(await w.stop() == 0) }
    }

    @Test func pausedQueueKeepsItsTasksUntilResumed() async throws {
        let server = try RedisServer()
        defer { server.kill() }
        let f = KaleFixture(server: server)
        let workers = try await Self.workers(1, server, f)
        #expect(try await f.client.pause(queue: "default"))
        #expect(try await f.client.stats(of: "default").isPaused)
        let refs = try await f.client.enqueueBatch(name: "kale.noop", args: Array(repeating: .object([:]), count: 20))
        try await Task.sleep(for: .milliseconds(1500))
        let stats = try await f.client.stats(of: "default")
        #expect(stats.pendingTotal == 20 && stats.active == 0, "a paused queue leases nothing: \(stats)")
        #expect(try await f.client.resume(queue: "default"))
        let resumedAt = ContinuousClock.now
        #expect(await ChaosTests.allSucceeded(refs, f, timeout: .seconds(10)))
        print("resume to all 20 done: \(ContinuousClock.now - resumedAt)")
        #expect(ContinuousClock.now - resumedAt < .seconds(2), "workers lease from a resumed queue within a second")

        // Pausing a busy queue: running tasks finish, the rest stay pending.
        let slow = try await f.client.enqueueBatch(name: "kale.sleep", args: Array(repeating: .object(["ms": .number(500)]), count: 10))
        _ = await waitUntil(timeout: .seconds(5)) { (try? await f.client.stats(of: "default").active) ?? 0 > 0 }
        try await f.client.pause(queue: "default")
        try await Task.sleep(for: .seconds(2))
        let states = try await Self.records(slow, f).map(\.state)
        let finished = states.filter { $0 == .succeeded }.count
        #expect(finished >= 1 && finished <= 4, "the tasks running or prefetched at the pause finish: \(states)")
        #expect(states.filter { $0 == .pending }.count == 10 - finished, "the rest stay pending: \(states)")
        try await f.client.resume(queue: "default")
        #expect(await ChaosTests.allSucceeded(slow, f, timeout: .seconds(20)))
        #expect(try await ChaosTests.nothingLeft(refs + slow, f).isEmpty)
        for w in workers { #expect(await w.stop() == 0) }
    }

    /// The most runs in progress at one instant.
    static func peakOverlap(_ runs: [(Date, Date)]) -> Int {
        var events: [(at: Double, step: Int)] = []
        for (start, end) in runs {
            events.append((start.timeIntervalSince1970, 1))
            events.append((end.timeIntervalSince1970, -1))
        }
        // An end before a start at the same instant: back-to-back runs do not overlap.
        events.sort { a, b in a.at == b.at ? a.step < b.step : a.at < b.at }
        var now = 0, peak = 0
        for e in events {
            now += e.step
            peak = max(peak, now)
        }
        return peak
    }
}
