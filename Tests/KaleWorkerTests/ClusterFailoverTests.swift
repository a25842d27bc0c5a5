import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// The Cluster issue's run, on six real `redis-server --cluster-enabled` processes made by
/// `redis-cli --cluster create`: three queues on three masters, two `kale worker` daemons on
/// the `redis+cluster://` URL and 10,000 tasks, while the busiest queue's slot is migrated key
/// by key to another master (clients meet ASK, then MOVED), a worker is kill -9'd in the
/// middle of that and replaced, `redis-cli --cluster reshard` moves more slots, and then the
/// master that owns the queue's slot is kill -9'd and its replica takes over. Every task
/// succeeds, no log names CROSSSLOT, nothing is left in any structure.
@Suite(.serialized, .timeLimit(.minutes(6))) struct ClusterFailoverTests {
    static let tasks = 10_000
    static let queues = ["images", "reports", "mail"]

    @Test func workersRideAMigrationAReshardAndAKilledMaster() async throws {
        let d = try ClusterDeployment()
        defer { d.kill() }
        let f = KaleFixture(server: d.nodes[0], redis: d.configuration()) {
            $0.replication = Replication(replicas: 1, timeout: .seconds(1))
        }
        let counter = f.keys.prefix + ":runs"
        let arguments = ["--queues", Self.queues.joined(separator: ","), "--lease", "2s"]
        var workers = try (0..<2).map { _ in
            try WorkerDaemon(url: d.url, prefix: f.keys.prefix, arguments: arguments, environment: ["KALE_REPLICAS": "1"])
        }
        for w in workers { try await w.waitUntilReady(f) }

        // The busiest queue gets half the tasks.
        let ids = (0..<Self.tasks).map { "cluster-\($0)" }
        func queue(_ n: Int) -> String { n % 2 == 0 ? Self.queues[0] : Self.queues[1 + (n / 2) % 2] }
        let acknowledged = Tally()
        let resent = Tally()
        let producers = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<8 {
                    group.addTask {
                        for n in stride(from: lane, to: Self.tasks, by: 8) {
                            while true {
                                do {
                                    _ = try await f.client.enqueue(name: "kale.count", args: .object(["key": .string(counter)]),
                                                                   options: EnqueueOptions(queue: queue(n), id: ids[n]))
                                    break
                                } catch let e as KaleError where e.code == .duplicateID {
                                    break
                                } catch {
                                    resent.add()
                                    try await Task.sleep(for: .milliseconds(50))
                                }
                            }
                            acknowledged.add()
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        // Producers that await some of the busiest queue's tasks all through the run: their
        // shard channels follow its slot through the migration, the reshard and the failover.
        let awaited = ids.indices.filter { $0 % 40 == 0 }.map { ids[$0] }
        let waitsRetried = Tally()
        let waiters = Task {
            try await withThrowingTaskGroup(of: [String].self) { group in
                for lane in 0..<10 {
                    group.addTask {
                        var notSucceeded: [String] = []
                        for id in stride(from: lane, to: awaited.count, by: 10).map({ awaited[$0] }) {
                            while true {
                                do {
                                    let info = try await f.client.wait(for: id, queue: Self.queues[0], timeout: .seconds(120))
                                    if info.state != .succeeded { notSucceeded.append("\(id): \(info.state)") }
                                    break
                                } catch let e as KaleError where e.code == .notFound {
                                    try await Task.sleep(for: .milliseconds(20))  // not enqueued yet
                                } catch is RedisError {
                                    // Its read of the record met the failover: ask again.
                                    waitsRetried.add()
                                    try await Task.sleep(for: .milliseconds(50))
                                }
                            }
                        }
                        return notSucceeded
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
        }
        let busiest = try d.slot(of: f.keys.queuePrefix(Self.queues[0]))
        let source = try d.owner(ofSlot: busiest)
        let target = try d.masters().first { $0.port != source.port }!

        _ = await waitUntil(timeout: .seconds(60)) { acknowledged.value >= 2_000 }
        // A slow, real migration: ten keys at a time, so producers and workers spend seconds
        // between ASK and MOVED.
        let migration = Task.detached { try d.moveSlot(busiest, to: target, batch: 10, pauseBetweenBatches: .milliseconds(5)) }
        try await Task.sleep(for: .milliseconds(300))
        workers[0].signal(SIGKILL)
        _ = await workers[0].waitForExit()
        workers[0] = try WorkerDaemon(url: d.url, prefix: f.keys.prefix, arguments: arguments, environment: ["KALE_REPLICAS": "1"])
        try await migration.value
        #expect(try d.owner(ofSlot: busiest).port == target.port)

        _ = await waitUntil(timeout: .seconds(60)) { acknowledged.value >= 5_000 }
        let third = try d.masters().first { $0.port != source.port && $0.port != target.port }!
        try d.reshard(slots: 200, from: third, to: source)

        _ = await waitUntil(timeout: .seconds(60)) { acknowledged.value >= 7_000 }
        let killedAt = ContinuousClock.now
        let promoted = try d.killMaster(target)
        let failoverTook = ContinuousClock.now - killedAt
        // Back with its node file it rejoins as the promoted master's replica, so replicated
        // enqueues and results can be acknowledged again.
        try target.start()
        try d.waitUntilSettled(timeout: .seconds(60))

        try await producers.value
        let waitFailures = try await waiters.value
        #expect(waitFailures.isEmpty, "every awaited task was seen to succeed: \(waitFailures.prefix(10))")
        var stillOpen: [String] = []
        for q in Self.queues {
            let refs = ids.indices.filter { queue($0) == q }.map { KaleClient.TaskRef(id: ids[$0], queue: q, created: true) }
            let done = await waitUntil(timeout: .seconds(120)) {
                guard let states = try? await f.redis.pipeline(refs.map { RedisCommand("HGET", f.keys.task(q, $0.id), "state") })
                else { return false }
                return states.allSatisfy { $0.string == "succeeded" }
            }
            if !done { stillOpen.append(q) }
            var problems = try await f.auditQueue(q, ids: refs.map(\.id))
            for list in f.keys.pendingLists(q) where try await f.redis.send("LLEN", list).int != 0 { problems.append("\(list) not empty") }
            for set in [f.keys.active(q), f.keys.scheduled(q), f.keys.dead(q)] where try await f.redis.send("ZCARD", set).int != 0 {
                problems.append("\(set) not empty")
            }
            #expect(problems.isEmpty, "queue \(q): \(problems.prefix(10))")
        }
        let runs = try await f.runCounts(counter)
        print("""
            cluster: \(Self.tasks) tasks in 3 queues on 2 workers; slot \(busiest) migrated \(source.port) -> \(target.port) \
            with a worker kill -9'd; 200 slots resharded \(third.port) -> \(source.port); kill -9 of master \(target.port), \
            \(promoted.port) promoted in \(failoverTook); \(resent.value) enqueues sent again; \(runs.count) tasks counted; \
            \(awaited.count) awaited by shard channel, \(waitsRetried.value) waits asked again
            """)
        #expect(stillOpen.isEmpty, "every task succeeded; not: \(stillOpen)")
        for w in workers {
            #expect(!w.log.contains("CROSSSLOT"), "no cross-slot command; log: \(w.log.suffix(2000))")
            #expect(await w.stop() == 0, "worker \(w.pid) stopped cleanly; log: \(w.log.suffix(2000))")
        }
    }
}
