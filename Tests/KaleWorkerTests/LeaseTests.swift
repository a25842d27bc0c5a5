import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// The defects of the reliability issue that concern leases and attempts, each shown with a
/// real `kale worker`, real signals and a real redis-server.
@Suite(.serialized, .timeLimit(.minutes(3))) struct LeaseTests {
    /// Defect 1: a worker whose lease lapsed (SIGSTOPped past it) and that leases the same task
    /// again must keep renewing the new lease when the old run ends.
    @Test func aRelapsedLeaseOnTheSameWorkerIsRenewedWhenTheOldRunEnds() async throws {
        let f = KaleFixture()
        let w = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix,
                                 arguments: ["--lease", "2s", "--prefetch", "1"], concurrency: 1)
        try await w.waitUntilReady(f)
        // Longer than the lease: only renewals keep it; it ignores the stop request of the
        // lost lease, so the old run is still there when the new lease is taken.
        let ref = try await f.client.enqueue(name: "kale.spin", args: .object(["ms": .number(5000), "ignore_cancel": .bool(true)]))
        #expect(try await waitUntil { try await f.client.status(of: ref.id)?.startedAt != nil })
        w.signal(SIGSTOP)
        try await Task.sleep(for: .milliseconds(2600))
        _ = try await f.client.broker.reap(queue: "default")
        #expect(try await f.client.status(of: ref.id)?.state == .pending, "the lapsed lease was reaped")
        w.signal(SIGCONT)
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(40))
        #expect(info.state == .succeeded)
        #expect(info.attempt == 2, "run 1 lost its lease, run 2 kept its own: attempt \(info.attempt)")
        #expect(try await f.auditQueue("default", ids: [ref.id]).isEmpty)
        #expect(await w.stop() == 0)
    }

    /// Defect 2: a result written while Redis answers `-BUSY` is retried, not dropped (which
    /// left the task to be reaped and run again).
    @Test func aResultIsRecordedThroughABusyRedis() async throws {
        let server = try RedisServer()
        defer { server.kill() }
        let f = KaleFixture(server: server)
        let w = try WorkerDaemon(url: server.url, prefix: f.keys.prefix, arguments: ["--lease", "6s"], concurrency: 1)
        try await w.waitUntilReady(f)
        // kale.sleep touches no Redis itself (its progress writes are best effort), so the only
        // write that matters during the outage is the worker's result.
        let ref = try await f.client.enqueue(name: "kale.sleep", args: .object(["ms": .number(600)]))
        #expect(try await waitUntil { try await f.client.status(of: ref.id)?.startedAt != nil })
        // Busy from before the run ends until well after: the result's write meets -BUSY.
        try await server.makeBusy(for: .seconds(3))
        #expect(await waitUntil(timeout: .seconds(10)) { (try? await f.redis.send("PING")) != nil }, "the busy script ended")
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(30))
        #expect(info.state == .succeeded)
        #expect(info.attempt == 1, "recorded on the first run, not reaped and rerun")
        #expect(w.log.contains("cannot record result, retrying"), "the write met the busy server")
        #expect(try await f.auditQueue("default", ids: [ref.id]).isEmpty)
        #expect(await w.stop() == 0)
    }

    /// Defect 3, as reproduced from outside: kill -9 of a supervisor with prefetched
    /// `max_retries 0` tasks must not send them dead without a run.
    @Test func prefetchedTasksOfAKilledSupervisorRunWithoutSpendingAnAttempt() async throws {
        let f = KaleFixture()
        let a = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix,
                                 arguments: ["--lease", "2s", "--prefetch", "3"], concurrency: 1)
        try await a.waitUntilReady(f)
        let counter = f.keys.prefix + ":runs"
        let long = try await f.client.enqueue(name: "kale.spin", args: .object(["ms": .number(30000), "ignore_cancel": .bool(true)]))
        #expect(try await waitUntil { try await f.client.status(of: long.id)?.startedAt != nil })
        var prefetched: [KaleClient.TaskRef] = []
        for _ in 0..<3 {
            prefetched.append(try await f.client.enqueue(name: "kale.count", args: .object(["key": .string(counter)]),
                                                         options: .init(maxRetries: 0)))
        }
        #expect(try await waitUntil { try await f.redis.send("ZCARD", f.keys.active("default")).int == 4 },
                "the supervisor holds the running task and three prefetched ones")
        a.signal(SIGKILL)
        let b = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"])
        for ref in prefetched {
            let info = try await f.client.wait(for: ref.id, timeout: .seconds(30))
            #expect(info.state == .succeeded, "\(ref.id) ended \(info.state): \(info.error?.message ?? "")")
            #expect(info.attempt == 1)
        }
        #expect(try await f.runCounts(counter).values.allSatisfy { $0 == 1 })
        _ = try await f.client.cancel(id: long.id)
        _ = try await f.client.wait(for: long.id, timeout: .seconds(30))
        #expect(try await f.auditQueue("default", ids: prefetched.map(\.id) + [long.id]).isEmpty)
        #expect(await b.stop() == 0)
    }

    /// Defect 3, the other half: a fetch whose reply never reaches its worker spends no
    /// attempt. The worker's fetch waits in Redis behind its BLPOP; the worker is stopped, a
    /// task arrives (Redis leases it to the stopped worker), and the worker is killed before
    /// it could read the reply.
    @Test func aFetchReplyThatNeverArrivesSpendsNoAttempt() async throws {
        let server = try RedisServer()
        defer { server.kill() }
        let f = KaleFixture(server: server)
        let a = try WorkerDaemon(url: server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"], concurrency: 1)
        try await a.waitUntilReady(f)
        #expect(try await waitUntil {
            (try await f.redis.send("CLIENT", "LIST").string ?? "").contains("cmd=blpop")
        }, "the idle worker blocks, its fetch queued behind the block")
        a.signal(SIGSTOP)
        let ref = try await f.client.enqueue(name: "kale.noop", args: .null, options: .init(maxRetries: 0))
        #expect(try await waitUntil { try await f.client.status(of: ref.id)?.state == .started }, "leased to the stopped worker")
        a.signal(SIGKILL)
        let b = try WorkerDaemon(url: server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"], concurrency: 1)
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(30))
        #expect(info.state == .succeeded, "ended \(info.state): \(info.error?.message ?? "")")
        #expect(info.attempt == 1)
        #expect(try await f.auditQueue("default", ids: [ref.id]).isEmpty)
        #expect(await b.stop() == 0)
    }

    /// What decision 0007 protects, kept under the new counting: a task that kills its whole
    /// worker (the inline pool runs it in the worker's own process) ends dead after
    /// `max_retries + 1` starts instead of killing workers forever.
    @Test func aTaskThatKillsItsWorkerEndsDeadAfterMaxRetriesPlusOneStarts() async throws {
        let f = KaleFixture()
        let ref = try await f.client.enqueue(name: "kale.crash", args: .object(["how": .string("exit")]), options: .init(maxRetries: 1))
        var deaths = 0
        for _ in 0..<5 {
            let w = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s", "--pool", "inline"], concurrency: 1)
            let exited = await w.waitForExit(timeout: .seconds(20))
            if exited != nil { deaths += 1 }
            if try await f.client.status(of: ref.id)?.state == .dead { break }
            if exited == nil { _ = await w.stop() }
        }
        // The last death is found by a worker's reaper once the lease expires.
        let reaper = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s", "--queues", "other,default"])
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(20))
        #expect(info.state == .dead)
        #expect(info.attempt == 2, "two starts for max_retries 1, not \(info.attempt)")
        #expect(deaths == 2, "the task killed its worker \(deaths) times")
        #expect(info.error?.kind == .workerLost)
        #expect(try await f.auditQueue("default", ids: [ref.id]).isEmpty)
        _ = await reaper.stop()
    }

    /// Defect 4: a cancel requested while the worker hangs (SIGSTOP past its lease) must end the
    /// task cancelled when its lease is reaped, never start it again.
    @Test func aCancelledTaskOnAHungWorkerEndsCancelledWhenReaped() async throws {
        let f = KaleFixture()
        let a = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"], concurrency: 1)
        try await a.waitUntilReady(f)
        let ref = try await f.client.enqueue(name: "kale.spin", args: .object(["ms": .number(20000), "ignore_cancel": .bool(true)]))
        #expect(try await waitUntil { try await f.client.status(of: ref.id)?.startedAt != nil })
        a.signal(SIGSTOP)
        defer { a.signal(SIGKILL) }
        #expect(try await f.client.cancel(id: ref.id) == "requested")
        try await Task.sleep(for: .milliseconds(2500))
        let b = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"], concurrency: 1)
        try await b.waitUntilReady(f)
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(20))
        #expect(info.state == .cancelled, "ended \(info.state) on attempt \(info.attempt)")
        #expect(info.attempt == 1, "never started again")
        #expect(try await f.auditQueue("default", ids: [ref.id]).isEmpty)
        #expect(await b.stop() == 0)
    }

    /// Defect 4: a cold stop that kills a task with a pending cancel request records the cancel
    /// instead of returning the task to its queue.
    @Test func aCancelledTaskKilledByAColdStopEndsCancelled() async throws {
        let f = KaleFixture()
        let w = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"], concurrency: 1)
        try await w.waitUntilReady(f)
        let ref = try await f.client.enqueue(name: "kale.spin", args: .object(["ms": .number(20000), "ignore_cancel": .bool(true)]))
        #expect(try await waitUntil { try await f.client.status(of: ref.id)?.startedAt != nil })
        #expect(try await f.client.cancel(id: ref.id) == "requested")
        // The worker has the request (it ignores it: the stop grace is 5 s) before the cold stop.
        try await Task.sleep(for: .milliseconds(300))
        w.signal(SIGINT)
        #expect(await w.waitForExit(timeout: .seconds(10)) == 0)
        let info = try #require(try await f.client.status(of: ref.id))
        #expect(info.state == .cancelled, "ended \(info.state)")
        #expect(try await f.auditQueue("default", ids: [ref.id]).isEmpty)
    }

    /// Defect 6: a prefetched task whose lease was lost while it waited must not run here (the
    /// task belongs to whoever leased it next).
    @Test func aPrefetchedTaskWhoseLeaseWasLostDoesNotRun() async throws {
        let f = KaleFixture()
        let a = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix,
                                 arguments: ["--lease", "2s", "--prefetch", "1", "--log-level", "info"], concurrency: 1)
        try await a.waitUntilReady(f)
        let counter = f.keys.prefix + ":runs"
        let long = try await f.client.enqueue(name: "kale.spin", args: .object(["ms": .number(4000), "ignore_cancel": .bool(true)]))
        #expect(try await waitUntil { try await f.client.status(of: long.id)?.startedAt != nil })
        let waiting = try await f.client.enqueue(name: "kale.count", args: .object(["key": .string(counter)]))
        #expect(try await waitUntil { try await f.client.status(of: waiting.id)?.state == .started })
        a.signal(SIGSTOP)
        try await Task.sleep(for: .milliseconds(2600))
        _ = try await f.client.broker.reap(queue: "default")
        // Another worker takes both at once while A is still stopped.
        let b = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"], concurrency: 2)
        #expect(try await waitUntil(timeout: .seconds(20)) {
            let w = try await f.client.status(of: waiting.id)?.worker
            return try await f.client.status(of: waiting.id)?.state == .succeeded && w != nil
        })
        a.signal(SIGCONT)
        _ = try await f.client.wait(for: long.id, timeout: .seconds(30))
        // A's runner is free again once its old run of `long` is killed: it must drop `waiting`.
        try await Task.sleep(for: .seconds(6))
        #expect(try await f.runCounts(counter)[waiting.id] == 1, "the task ran only where its lease was")
        #expect(try await f.auditQueue("default", ids: [long.id, waiting.id]).isEmpty)
        #expect(await a.stop() == 0)
        #expect(await b.stop() == 0)
    }

    /// Defect 6, as a guard (the race it closes is too narrow to hit on demand: this passes on
    /// 7d2172b too): three cold stops in a stream of tasks give back only the runs they killed.
    /// The tasks count at the end of a 30 ms run, so a killed run has not counted, and a task
    /// that finished, or that no child had taken yet, must not come back as if it had been
    /// killed: no task may count twice, and none is lost.
    @Test func coldStopsDuringAStreamOfTasksLoseNoneAndRunNoneTwice() async throws {
        let f = KaleFixture()
        let counter = f.keys.prefix + ":runs"
        let refs = try await f.client.enqueueBatch(
            name: "kale.count", args: Array(repeating: .object(["key": .string(counter), "ms": .number(30)]), count: 300))
        for round in 1...3 {
            let w = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s", "--log-level", "warning"])
            let target = round * 60
            #expect(try await waitUntil(timeout: .seconds(30)) { (try await f.runCounts(counter).count) >= target })
            w.signal(SIGINT)
            #expect(await w.waitForExit(timeout: .seconds(15)) == 0)
        }
        let last = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix)
        for ref in refs {
            let info = try await f.client.wait(for: ref.id, timeout: .seconds(60))
            #expect(info.state == .succeeded)
        }
        let counts = try await f.runCounts(counter)
        let twice = counts.filter { $0.value > 1 }
        #expect(counts.count == refs.count && twice.isEmpty, "\(twice.count) tasks ran twice: \(twice.keys.prefix(5))")
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
        #expect(await last.stop() == 0)
    }
}
