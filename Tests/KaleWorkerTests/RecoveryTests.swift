import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Testing

@Suite(.serialized, .timeLimit(.minutes(3))) struct RecoveryTests {
    @Test func killingASupervisorLosesNoTask() async throws {
        let f = KaleFixture()
        let a = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"])
        let b = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"])
        try await a.waitUntilReady(f)
        try await b.waitUntilReady(f)
        let refs = try await f.client.enqueueBatch(name: "kale.spin", args: (0..<200).map { _ in .object(["ms": .number(30)]) })
        let aID = try #require(try await a.workerID(f))
        // Kill A once it holds work.
        #expect(try await waitUntil { (try await children(of: aID, f).values.contains { $0 != nil }) })
        let held = try await f.redis.send("ZRANGE", f.keys.active("default"), 0, -1).strings ?? []
        let heldByA = try await f.redis.pipeline(held.map { RedisCommand("HGET", f.keys.task("default", $0), "worker") })
            .enumerated().filter { $0.element.string == aID }.map { held[$0.offset] }
        a.signal(SIGKILL)
        let killedAt = Date()
        #expect(!heldByA.isEmpty)
        for ref in refs {
            let info = try await f.client.wait(for: ref.id, timeout: .seconds(60))
            #expect(info.state == .succeeded, "\(ref.id) ended \(info.state)")
        }
        for id in heldByA {
            let info = try #require(try await f.client.status(of: id))
            if info.attempt > 1, let started = info.startedAt {
                #expect(started.timeIntervalSince(killedAt) <= 2 + 2, "rerun within lease + 2 s")
            }
        }
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
        #expect(await b.stop() == 0)
    }

    /// A child runs its task on the thread that reads its pipe, so it learns of its
    /// supervisor's death from the control pipe: a task that never yields (and ignores stop
    /// requests) must not keep an orphan spinning, and the task must run again elsewhere.
    @Test func childrenOfAKilledSupervisorLeaveMidTask() async throws {
        let f = KaleFixture()
        let a = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"])
        try await a.waitUntilReady(f)
        let aID = try #require(try await a.workerID(f))
        let refs = try await f.client.enqueueBatch(
            name: "kale.spin", args: [.object(["ms": .number(4000), "ignore_cancel": .bool(true)]),
                                      .object(["ms": .number(4000), "ignore_cancel": .bool(true)])])
        var busy: [Int32] = []
        #expect(try await waitUntil {
            busy = try await children(of: aID, f).filter { $0.value != nil }.map(\.key)
            return busy.count == 2
        })
        a.signal(SIGKILL)
        let gone = await waitUntil(timeout: .seconds(2)) { busy.allSatisfy { kill($0, 0) != 0 && errno == ESRCH } }
        #expect(gone, "children \(busy) outlived their supervisor")
        let b = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"])
        for ref in refs {
            let info = try await f.client.wait(for: ref.id, timeout: .seconds(30))
            #expect(info.state == .succeeded && info.attempt == 2, "\(ref.id) ended \(info.state) on attempt \(info.attempt)")
        }
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
        #expect(await b.stop() == 0)
    }

    @Test func redisOutageIsRiddenOutWithoutLoss() async throws {
        let server = try RedisServer(options: ["--appendonly", "yes", "--appendfsync", "always"])
        defer { server.kill() }
        let f = KaleFixture(server: server)
        let daemon = try WorkerDaemon(url: server.url, prefix: f.keys.prefix)
        try await daemon.waitUntilReady(f)
        let refs = try await f.client.enqueueBatch(name: "kale.sleep", args: (0..<300).map { _ in .object(["ms": .number(20)]) })
        #expect(try await waitUntil { (try await f.redis.send("HGET", f.keys.task("default", refs[20].id), "state").string) == "succeeded" })
        server.stop()
        try await Task.sleep(for: .seconds(5))
        #expect(daemon.process.isRunning, "the worker rides out the outage")
        try server.start()
        for ref in refs {
            let info = try await f.client.wait(for: ref.id, timeout: .seconds(60))
            #expect(info.state == .succeeded)
        }
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
        #expect(daemon.log.contains("retrying") || daemon.log.contains("lost"), "the outage was logged")
        #expect(await daemon.stop() == 0)
    }

    @Test func warmShutdownFinishesRunningTasksAndReturnsTheRest() async throws {
        let f = KaleFixture()
        let daemon = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--grace", "10s"])
        try await daemon.waitUntilReady(f)
        let refs = try await f.client.enqueueBatch(name: "kale.sleep", args: (0..<6).map { _ in .object(["ms": .number(1500)]) })
        #expect(try await waitUntil { try await f.redis.send("ZCARD", f.keys.active("default")).int == 4 })
        // Leased is not running: wait until two tasks report progress from their children.
        #expect(try await waitUntil {
            var running = 0
            for ref in refs where (try await f.client.status(of: ref.id, queue: "default")?.progress ?? 0) > 0 { running += 1 }
            return running == 2
        })
        let start = ContinuousClock.now
        daemon.signal(SIGTERM)
        let status = await daemon.waitForExit(timeout: .seconds(15))
        #expect(status == 0)
        #expect(ContinuousClock.now - start < .seconds(10))
        var states: [TaskState: Int] = [:]
        for ref in refs { states[try #require(try await f.client.status(of: ref.id)).state, default: 0] += 1 }
        #expect(states[.succeeded] == 2, "the two running tasks finished: \(states)")
        #expect(states[.pending] == 4, "prefetched and unstarted tasks went back at once: \(states)")
        #expect(try await f.redis.send("ZCARD", f.keys.active("default")).int == 0)
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
    }

    @Test func coldShutdownRequeuesRunningTasksAtOnce() async throws {
        let f = KaleFixture()
        let daemon = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix)
        try await daemon.waitUntilReady(f)
        let refs = try await f.client.enqueueBatch(name: "kale.sleep", args: (0..<2).map { _ in .object(["ms": .number(5000)]) })
        // Both running in children (they report progress every half second), not just leased.
        #expect(try await waitUntil {
            var running = 0
            for ref in refs where (try await f.client.status(of: ref.id, queue: "default")?.progress ?? 0) > 0 { running += 1 }
            return running == 2
        })
        daemon.signal(SIGINT)
        #expect(await daemon.waitForExit(timeout: .seconds(10)) == 0)
        for ref in refs {
            let info = try #require(try await f.client.status(of: ref.id))
            #expect(info.state == .pending)
            #expect(info.attempt == 0, "a shutdown is not the task's failure")
        }
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
    }

    @Test func twoWorkersRunFiveThousandTasksExactlyOnce() async throws {
        let f = KaleFixture()
        let a = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--log-level", "warning"])
        let b = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--log-level", "warning"])
        try await a.waitUntilReady(f)
        try await b.waitUntilReady(f)
        let refs = try await f.client.enqueueBatch(name: "kale.noop", args: Array(repeating: .null, count: 5000))
        var byWorker: [String: Int] = [:]
        for ref in refs {
            let info = try await f.client.wait(for: ref.id, timeout: .seconds(120))
            #expect(info.state == .succeeded && info.attempt == 1)
            byWorker[info.worker ?? "?", default: 0] += 1
        }
        #expect(byWorker.count == 2, "both workers took part: \(byWorker)")
        let succeeded = try await f.redis.send("EVAL", "local n=0 for _,k in ipairs(redis.call('KEYS', ARGV[1])) do n=n+tonumber(redis.call('GET',k)) end return n", 0,
                                               f.keys.statsPrefix("default") + "succeeded:*").int
        #expect(succeeded == 5000, "exactly 5000 successes recorded")
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
        #expect(await a.stop() == 0)
        #expect(await b.stop() == 0)
    }
}

@Suite(.timeLimit(.minutes(3))) struct LeaseRenewalTests {
    @Test func aTaskLongerThanItsLeaseIsNeverRedeliveredWhileItsWorkerLives() async throws {
        let f = KaleFixture()
        let a = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"], concurrency: 1)
        let b = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"], concurrency: 1)
        try await a.waitUntilReady(f)
        try await b.waitUntilReady(f)
        // CPU-bound for 3 lease lengths: only the supervisor's renewals keep it leased.
        let refs = try await f.client.enqueueBatch(name: "kale.spin", args: [.object(["ms": .number(6000)]), .object(["ms": .number(6000)])])
        for ref in refs {
            let info = try await f.client.wait(for: ref.id, timeout: .seconds(30))
            #expect(info.state == .succeeded)
            #expect(info.attempt == 1, "never re-delivered")
        }
        #expect(await a.stop() == 0)
        #expect(await b.stop() == 0)
    }
}
