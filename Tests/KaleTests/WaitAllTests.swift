import Foundation
import KaleRedis
import KaleTestSupport
import KaleWorker
import Synchronization
import Testing

@testable import Kale

/// Awaiting a batch through its end group's stream (``KaleClient/waitAll(_:endGroup:timeout:onEnd:)``).
@Suite(.timeLimit(.minutes(3))) struct WaitAllTests {
    /// Calls of `names` the server has answered so far (INFO commandstats).
    private func calls(_ f: KaleFixture, _ names: [String]) async throws -> Int {
        let text = try await f.redis.send("INFO", "commandstats").string ?? ""
        var total = 0
        for line in text.split(whereSeparator: \.isNewline) {
            for name in names where line.hasPrefix("cmdstat_\(name):") {
                if let r = line.range(of: "calls="), let n = Int(line[r.upperBound...].prefix { $0.isNumber }) { total += n }
            }
        }
        return total
    }

    @Test func thousandsOfEndsArriveWithoutASubscription() async throws {
        // A server of its own: the test counts the subscriptions the server saw.
        let server = try RedisServer()
        defer { server.stop() }
        let f = KaleFixture(server: server)
        let registry = TaskRegistry()
        DiagnosticTasks.register(in: registry)
        let worker = f.startWorker(registry: registry, concurrency: 4)
        let group = KaleClient.newEndGroup()
        let refs = try await f.client.enqueueBatch(name: "kale.echo", args: (0..<3000).map { .number(Double($0)) },
                                                   options: EnqueueOptions(endGroup: group))
        let subscriptionsBefore = try await calls(f, ["subscribe", "ssubscribe", "psubscribe"])
        let seen = Mutex(0)
        let ended = try await f.client.waitAll(refs, endGroup: group, timeout: .seconds(60)) { _ in seen.withLock { $0 += 1 } }
        try await worker.stop()

        #expect(ended.count == 3000 && seen.withLock { $0 } == 3000)
        for (i, awaited) in ended.enumerated() {
            #expect(awaited.ref.id == refs[i].id && awaited.succeeded, "\(awaited)")
            #expect(awaited.info?.result == .number(Double(i)))
        }
        #expect(try await calls(f, ["subscribe", "ssubscribe", "psubscribe"]) == subscriptionsBefore, "a wait subscribed")
        #expect(try await f.redis.send("XLEN", f.keys.ends("default", group)).int == 3000)
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
    }

    /// The scripts that end a task name it in its group's stream, so a wait that starts after
    /// the batch ended reads the stream alone: no subscription, and not one look at a task's state.
    @Test func endsAreListedByTheScriptsThatEndTheTasks() async throws {
        let server = try RedisServer()
        defer { server.stop() }
        let f = KaleFixture(server: server)
        let registry = TaskRegistry()
        DiagnosticTasks.register(in: registry)
        let group = KaleClient.newEndGroup()
        let refs = try await f.client.enqueueBatch(name: "kale.noop", args: Array(repeating: .null, count: 1500),
                                                   options: EnqueueOptions(maxRetries: 0, endGroup: group))
        let strays = try await f.client.enqueueBatch(name: "no.such.task", args: [.null, .null], options: EnqueueOptions(endGroup: group))
        let worker = f.startWorker(registry: registry, concurrency: 4)
        let stream = f.keys.ends("default", group)
        #expect(try await waitUntil(timeout: .seconds(30)) { try await f.redis.send("XLEN", stream).int == 1502 })
        try await worker.stop()
        let ttl = try await f.redis.send("PTTL", stream).int ?? 0
        #expect(ttl > 0 && ttl <= f.configuration.resultTTL.milliseconds, "the stream expires with the results: \(ttl) ms")

        let before = try await calls(f, ["subscribe", "ssubscribe", "psubscribe", "hget"])
        let ended = try await f.client.waitAll(refs + strays, endGroup: group, timeout: .seconds(10))
        #expect(try await calls(f, ["subscribe", "ssubscribe", "psubscribe", "hget"]) == before)
        #expect(ended.prefix(1500).allSatisfy { $0.succeeded })
        #expect(ended.suffix(2).allSatisfy { $0.info?.state == .dead })
    }

    @Test func everyWayOfEndingIsSeen() async throws {
        let f = KaleFixture()
        let group = EnqueueOptions(endGroup: KaleClient.newEndGroup())
        let echoed = try await f.client.enqueue(name: "kale.echo", args: .string("hi"), options: group)
        let unknown = try await f.client.enqueue(name: "no.such.task", args: .null, options: group)
        var once = group
        once.maxRetries = 0
        let failed = try await f.client.enqueue(name: "kale.fail", args: .object(["message": .string("boom")]), options: once)
        let cancelled = try await f.client.enqueue(name: "kale.noop", args: .null, options: group)
        #expect(try await f.client.cancel(id: cancelled.id, queue: "default") == "cancelled")
        // Gone before it ran: only the look at the tasks themselves can tell.
        var later = group
        later.delay = .seconds(3600)
        let deleted = try await f.client.enqueue(name: "kale.noop", args: .null, options: later)
        try await f.redis.send("DEL", f.keys.task("default", deleted.id))
        // A unique key answers with the task that holds it, enqueued outside the group.
        let older = try await f.client.enqueue(name: "kale.echo", args: .string("older"), options: EnqueueOptions(uniqueKey: "k"))
        var unique = group
        unique.uniqueKey = "k"
        let answered = try await f.client.enqueue(name: "kale.echo", args: .string("newer"), options: unique)
        #expect(!answered.created && answered.id == older.id)

        let registry = TaskRegistry()
        DiagnosticTasks.register(in: registry)
        let worker = f.startWorker(registry: registry)
        let refs = [echoed, unknown, failed, cancelled, deleted, answered]
        let ended = try await f.client.waitAll(refs, endGroup: group.endGroup!, timeout: .seconds(30))
        try await worker.stop()

        #expect(ended.allSatisfy { !$0.timedOut }, "\(ended)")
        #expect(ended[0].succeeded && ended[0].info?.result == .string("hi"))
        #expect(ended[1].info?.state == .dead && ended[1].info?.error?.type == "UnknownTask")
        #expect(ended[2].info?.state == .dead && ended[2].info?.error?.message.contains("boom") == true)
        #expect(ended[3].info?.state == .cancelled)
        #expect(ended[4].info == nil)
        #expect(ended[5].succeeded && ended[5].ref.id == older.id && ended[5].info?.result == .string("older"))
    }

    @Test func theDeadlineEndsTheWaitWithTheRecordsThen() async throws {
        let f = KaleFixture()
        let group = KaleClient.newEndGroup()
        let refs = try await f.client.enqueueBatch(name: "kale.noop", args: [.null, .null],
                                                   options: EnqueueOptions(delay: .seconds(3600), endGroup: group))
        let start = ContinuousClock.now
        let ended = try await f.client.waitAll(refs, endGroup: group, timeout: .milliseconds(300))
        let took = ContinuousClock.now - start
        #expect(took >= .milliseconds(300) && took < .milliseconds(900), "took \(took)")
        #expect(ended.map(\.timedOut) == [true, true] && ended.allSatisfy { $0.info?.state == .scheduled })
    }

    /// A quiet second looks at 1,000 of the tasks still awaited, not at all of them: a batch
    /// of long tasks must not turn the wait into polling.
    @Test func aQuietStreamCostsABoundedLookAtTheTasks() async throws {
        let server = try RedisServer()
        defer { server.stop() }
        let f = KaleFixture(server: server)
        let group = KaleClient.newEndGroup()
        let refs = try await f.client.enqueueBatch(name: "kale.noop", args: Array(repeating: .null, count: 2500),
                                                   options: EnqueueOptions(delay: .seconds(3600), endGroup: group))
        // The last one is gone: only the look can tell, and it must come to it in turn.
        try await f.redis.send("DEL", f.keys.task("default", refs[2499].id))
        let before = try await calls(f, ["hget"])
        let ended = try await f.client.waitAll(refs, endGroup: group, timeout: .milliseconds(3500))
        let looks = try await calls(f, ["hget"]) - before
        #expect(looks <= 4000, "\(looks) HGETs in four quiet rounds for 2,500 tasks")
        #expect(ended[2499].info == nil && !ended[2499].timedOut, "the deleted record was found")
        #expect(ended.prefix(2499).allSatisfy { $0.timedOut && $0.info?.state == .scheduled })
    }

    @Test func aGroupNameIsCheckedLikeAnID() async throws {
        let f = KaleFixture()
        await #expect(throws: KaleError.self) {
            _ = try await f.client.enqueue(name: "kale.noop", args: .null, options: EnqueueOptions(endGroup: "a{b}"))
        }
    }
}
