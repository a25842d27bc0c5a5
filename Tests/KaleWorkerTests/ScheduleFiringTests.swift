import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Synchronization
import Testing

/// Schedules fired by real worker daemons: exactly one task per tick while the leader is
/// killed and restarted, while a rival fires every tick too, and while the schedule is edited
/// and paused.
@Suite(.serialized, .timeLimit(.minutes(4))) struct ScheduleFiringTests {
    static let lease = 2.0

    static func worker(_ server: RedisServer, _ f: KaleFixture) throws -> WorkerDaemon {
        try WorkerDaemon(url: server.url, prefix: f.keys.prefix,
                         arguments: ["--diagnostics", "--schedule-lease", "\(Int(lease))s"], concurrency: 1)
    }

    /// The daemon that holds the leader's lease now.
    static func leader(of workers: [WorkerDaemon], _ f: KaleFixture) async throws -> WorkerDaemon? {
        guard let value = try await f.redis.send("GET", f.keys.scheduleLeader).string,
              let id = value.split(separator: ":", maxSplits: 1).last.map(String.init) else { return nil }
        for w in workers where try await w.workerID(f) == id { return w }
        return nil
    }

    /// Every task a schedule created: tick (ms) -> enqueued at (ms).
    static func fired(_ name: String, _ f: KaleFixture) async throws -> [Int64: Int64] {
        let keys = try await f.redis.send("KEYS", f.keys.taskPrefix("default") + name + "@*").strings ?? []
        var out: [Int64: Int64] = [:]
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        for key in keys {
            let text = String(key.split(separator: "@").last ?? "")
            guard let date = plain.date(from: text) ?? formatter.date(from: text) else { continue }
            let enqueued = try await f.redis.send("HGET", key, "enqueued_at").string.flatMap { Int64($0) } ?? 0
            out[Int64((date.timeIntervalSince1970 * 1000).rounded())] = enqueued
        }
        return out
    }

    /// Fires every tick of `d` itself under fencing token 1 (the first leader's), as a
    /// worker that lost the lease without noticing would; counts what the script answered.
    final class Rival: Sendable {
        let counts = Mutex<[String: Int]>([:])
        func run(_ d: ScheduleDefinition, _ f: KaleFixture, until end: ContinuousClock.Instant) async {
            var after = Broker.now()
            while ContinuousClock.now < end {
                guard let tick = d.timing.nextFire(after: after) else { return }
                try? await Task.sleep(for: .milliseconds(max(tick - Broker.now(), 0) + Int64.random(in: 0...30)))
                let outcome = try? await f.client.fire(d, tick: tick, fence: 1)
                let kind: String
                switch outcome {
                case .fired?: kind = "fired"
                case .duplicate?: kind = "duplicate"
                case .fenced?: kind = "fenced"
                case nil: kind = "error"
                }
                counts.withLock { $0[kind, default: 0] += 1 }
                after = tick
            }
        }
    }

    @Test func eachTickFiresOnceWhileTheLeaderIsKilledAndARivalFiresToo() async throws {
        let server = try RedisServer()
        defer { server.kill() }
        let f = KaleFixture(server: server)
        var workers = try (0..<3).map { _ in try Self.worker(server, f) }
        for w in workers { try await w.waitUntilReady(f) }
        let d = ScheduleDefinition(name: "tick", task: "kale.noop", timing: try ScheduleTiming(every: "1s"))
        try await f.client.addSchedule(d)
        let start = Broker.now()
        let end = ContinuousClock.now + .seconds(30)
        let rival = Rival()
        let rivalRun = Task { await rival.run(d, f, until: end) }
        var kills: [String] = []
        var retired: [WorkerDaemon] = []
        for at in [8.0, 18.0] {
            try await Task.sleep(until: end - .seconds(30 - at))
            guard let leader = try await Self.leader(of: workers, f) else { Issue.record("no leader at \(at) s"); continue }
            leader.signal(SIGKILL)
            _ = await leader.waitForExit(timeout: .seconds(5))
            workers.removeAll { $0 === leader }
            retired.append(leader)
            let fresh = try Self.worker(server, f)
            workers.append(fresh)
            kills.append("kill -9 of leader \(leader.pid) at \(at) s, restarted as \(fresh.pid)")
        }
        await rivalRun.value
        let stop = Broker.now()
        try await Task.sleep(for: .seconds(Self.lease + 1.5))

        let fired = try await Self.fired("tick", f)
        let expected = stride(from: (start / 1000 + 1) * 1000, through: stop - Int64(Self.lease * 1000) - 1000, by: 1000)
        let missing = expected.filter { fired[$0] == nil }
        let lateness = fired.map { $0.value - $0.key }
        let status = try #require(try await f.client.schedules().first { $0.definition.name == "tick" })
        let rivalCounts = rival.counts.withLock { $0 }
        print("schedule every 1s, 3 workers, lease \(Self.lease) s: \(kills.joined(separator: "; "))")
        print("ticks fired \(fired.count) (expected \(Array(expected).count)+), missing \(missing.count), worst lateness \(lateness.max() ?? 0) ms")
        print("rival (fencing token 1): \(rivalCounts); state: fired \(status.fired), refused duplicates \(status.refusedDuplicates), refused stale leader \(status.refusedStaleLeader)")
        #expect(missing.isEmpty, "no tick missed: \(missing)")
        #expect((lateness.max() ?? 0) <= Int64((Self.lease + 1.5) * 1000), "no tick later than the lease (+ the follower's check)")
        #expect(status.fired == fired.count, "one task per recorded tick, none twice")
        let refusedRival = (rivalCounts["duplicate"] ?? 0) + (rivalCounts["fenced"] ?? 0)
        #expect(refusedRival > 0 && (rivalCounts["fenced"] ?? 0) > 0, "the stale rival was refused, by the fence once a new leader led")
        #expect(status.refusedDuplicates + status.refusedStaleLeader >= refusedRival, "every refusal is counted")
        #expect(rivalCounts["error"] == nil)
        let refs = fired.keys.map { KaleClient.TaskRef(id: d.taskID(tick: $0), queue: "default", created: true) }
        #expect(await ChaosTests.allSucceeded(refs, f, timeout: .seconds(20)))
        #expect(try await ChaosTests.nothingLeft(refs, f).isEmpty)
        for w in workers { #expect(await w.stop() == 0) }
        _ = retired
    }

    @Test func anEditAndAPauseTakeEffectWhileWorkersRun() async throws {
        let server = try RedisServer()
        defer { server.kill() }
        let f = KaleFixture(server: server)
        let workers = try (0..<3).map { _ in try Self.worker(server, f) }
        for w in workers { try await w.waitUntilReady(f) }
        var d = ScheduleDefinition(name: "edit", task: "kale.echo", timing: try ScheduleTiming(every: "1s"), args: .object(["v": .number(1)]))
        try await f.client.addSchedule(d)
        try await Task.sleep(for: .seconds(4))
        d.args = .object(["v": .number(2)])
        let editedAt = Broker.now()
        try await f.client.addSchedule(d)
        try await Task.sleep(for: .seconds(4))
        #expect(try await f.client.setSchedule("edit", paused: true))
        let pausedAt = Broker.now()
        try await Task.sleep(for: .seconds(4))
        #expect(try await f.client.setSchedule("edit", paused: false))
        let resumedAt = Broker.now()
        try await Task.sleep(for: .seconds(4))
        #expect(try await f.client.removeSchedule("edit"))
        let removedAt = Broker.now()
        try await Task.sleep(for: .seconds(2))

        let fired = try await Self.fired("edit", f)
        let ticks = fired.keys.sorted()
        var args: [Int64: JSONValue] = [:]
        for t in ticks { args[t] = try await f.client.status(of: d.taskID(tick: t), queue: "default")?.result }
        // Ticks 1 s apart except across the pause; none between pause and resume (one may
        // be fired in the second the pause takes to be seen), and none after the removal.
        let inPause = ticks.filter { $0 > pausedAt + 1000 && $0 <= resumedAt }
        let afterRemoval = ticks.filter { $0 > removedAt + 1000 }
        let gaps = zip(ticks, ticks.dropFirst()).map { $1 - $0 }
        print("edited schedule: ticks \(ticks.count), gaps \(gaps), in pause \(inPause.count), after removal \(afterRemoval.count)")
        #expect(inPause.isEmpty && afterRemoval.isEmpty)
        #expect(gaps.filter { $0 != 1000 }.count == 1, "one gap: the pause")
        #expect(ticks.filter { $0 > editedAt + 1000 }.allSatisfy { args[$0] == .object(["v": .number(2)]) }, "the edit applies without a restart")
        #expect(ticks.filter { $0 < editedAt }.allSatisfy { args[$0] == .object(["v": .number(1)]) })
        let refs = ticks.map { KaleClient.TaskRef(id: d.taskID(tick: $0), queue: "default", created: true) }
        #expect(try await ChaosTests.nothingLeft(refs, f).isEmpty)
        for w in workers { #expect(await w.stop() == 0) }
    }

    @Test func catchUpOneFiresOneLateRunAndNoneSkips() async throws {
        let server = try RedisServer()
        defer { server.kill() }
        let f = KaleFixture(server: server)
        // Made 20 s ago with no worker alive since: 20 missed ticks each.
        let since = Broker.now() - 20_000
        try await f.client.addSchedule(ScheduleDefinition(name: "one", task: "kale.noop", timing: try ScheduleTiming(every: "1s"),
                                                          catchUp: .one, since: since))
        try await f.client.addSchedule(ScheduleDefinition(name: "none", task: "kale.noop", timing: try ScheduleTiming(every: "1s"),
                                                          catchUp: .none, since: since))
        let w = try Self.worker(server, f)
        try await w.waitUntilReady(f)
        let startedAt = Broker.now()
        try await Task.sleep(for: .seconds(3))
        let one = try await Self.fired("one", f), none = try await Self.fired("none", f)
        let lateOne = one.keys.filter { $0 < startedAt - 3000 }, lateNone = none.keys.filter { $0 < startedAt - 3000 }
        print("catch-up one: \(lateOne.count) late run(s); none: \(lateNone.count)")
        #expect(lateOne.count == 1 && lateNone.isEmpty)
        let status = try await f.client.schedules()
        #expect(status.first { $0.definition.name == "none" }?.skipped == 1, "the missed ticks are recorded as skipped")
        #expect(!one.isEmpty && !none.isEmpty, "both fire their current ticks")
        #expect(await w.stop() == 0)
    }
}
