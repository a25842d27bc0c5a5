import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// The flow controls of the fetch script, driven directly: what a fetch leases, defers and
/// leaves behind under a limit, against a real Redis.
@Suite struct FlowScriptTests {
    /// Copies `limits` for `task` into the default queue, as a worker would.
    static func limit(_ f: KaleFixture, _ task: String, _ limits: TaskLimits, version: Int = 1) async throws {
        try await f.client.broker.syncLimits(queue: "default", version: version, specs: [(task, limits.spec)])
    }

    static func fetch(_ f: KaleFixture, count: Int, lease: String, now: Int64 = Broker.now(), length: Int64 = 10_000) async throws -> [LeasedTask] {
        let reply = try await f.redis.send(f.client.broker.fetch(queue: "default", worker: "w", lease: lease, count: count,
                                                                 leaseDeadline: now + length, now: now))
        try reply.throwingServerError()
        return Broker.leased(from: reply, queue: "default", lease: lease)
    }

    @Test func aSpecTheFetchCannotReadLimitsNothingAndLosesNothing() async throws {
        let f = KaleFixture()
        try await f.redis.send("HSET", f.keys.control("default"), "limit:t.x", "1.2.3|1|0|").throwingServerError()
        let refs = try await f.client.enqueueBatch(name: "t.x", args: [.null, .null])
        let leased = try await Self.fetch(f, count: 2, lease: "a")
        #expect(leased.count == 2)
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
    }

    @Test func falseIsAKeyValueOfItsOwn() async throws {
        let f = KaleFixture()
        try await Self.limit(f, "t.x", TaskLimits(concurrency: 1, keyField: "premium"))
        let refs = try await f.client.enqueueBatch(name: "t.x", args: [.object(["premium": .bool(false)]), .object(["premium": .bool(true)]), .object([:])])
        // Three buckets (false, true, absent), one permit each: all three run at once.
        #expect(try await Self.fetch(f, count: 3, lease: "a").count == 3)
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
    }

    @Test func aCappedTaskWhosePermitWentToAnotherLosesItsLease() async throws {
        let f = KaleFixture()
        try await Self.limit(f, "t.x", TaskLimits(concurrency: 1))
        let refs = try await f.client.enqueueBatch(name: "t.x", args: [.null, .null])
        let now = Broker.now()
        // The first holder's lease lapses (its worker stalls); the next fetch gives the permit
        // to the second task.
        let first = try await Self.fetch(f, count: 1, lease: "a", now: now, length: 50)
        #expect(first.count == 1)
        let second = try await Self.fetch(f, count: 1, lease: "b", now: now + 100)
        #expect(second.count == 1, "the lapsed holder's permit is free")
        // The stalled worker wakes and renews before any reaper ran: it must stop, not run on
        // as a third... second holder of a cap of one.
        let (lost, _) = try await f.client.broker.extend(queue: "default", tasks: first, worker: "w", leaseDeadline: now + 20_000)
        #expect(lost == [0])
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
    }

    @Test func aRateSlotThatPassedLongAgoIsNotAFreePass() async throws {
        let f = KaleFixture()
        try await Self.limit(f, "t.x", TaskLimits(rate: .init(count: 1, period: .seconds(60))))
        let refs = try await f.client.enqueueBatch(name: "t.x", args: [.null, .null])
        let now = Broker.now()
        #expect(try await Self.fetch(f, count: 2, lease: "a", now: now).count == 1, "one start per minute")
        // The other was deferred to its slot a minute on; say its queue was paused for an
        // hour past that slot, and it comes back now.
        let waiting = try await f.redis.send("ZRANGE", f.keys.scheduled("default"), 0, -1).strings ?? []
        #expect(waiting.count == 1)
        let id = try #require(waiting.first)
        let key = f.keys.task("default", id)
        #expect(try await f.redis.send("HGET", key, "deferred").string == "rate")
        try await f.redis.send("HSET", key, "rate_slot", now - 3_600_000, "state", "pending").throwingServerError()
        try await f.redis.send("ZREM", f.keys.scheduled("default"), id).throwingServerError()
        try await f.redis.send("LPUSH", f.keys.pending("default", .normal), id).throwingServerError()
        #expect(try await Self.fetch(f, count: 1, lease: "b", now: now + 1000).isEmpty, "an old slot asks the rate again")
        #expect(try await f.redis.send("HGET", key, "deferred").string == "rate")
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
    }

    /// A lease clears the marks of an earlier life (progress, a deferral) and only when there
    /// are some; the message comes from the same read as the state.
    @Test func aLeaseClearsOldMarksAndCarriesTheMessage() async throws {
        let f = KaleFixture()
        let refs = try await f.client.enqueueBatch(name: "t.x", args: [.string("marked"), .string("plain")])
        let marked = f.keys.task("default", refs[0].id)
        try await f.redis.send("HSET", marked, "progress", "0.5", "deferred", "rate", "waiting", "w", "rate_slot", "1").throwingServerError()
        let leased = try await Self.fetch(f, count: 2, lease: "a")
        #expect(leased.count == 2)
        for task in leased {
            let message = try JSONValue(parsing: Data(task.message))
            #expect(message["id"]?.stringValue == task.id && message["args"] == .string(task.id == refs[0].id ? "marked" : "plain"))
        }
        let marks = try await f.redis.send("HMGET", marked, "progress", "deferred", "waiting", "rate_slot").array ?? []
        #expect(marks.count == 4 && marks.allSatisfy { $0.string == nil }, "\(marks)")
        #expect(try await f.redis.send("HGET", marked, "state").string == "started")
        #expect(try await f.auditQueue("default", ids: refs.map(\.id)).isEmpty)
    }
}
