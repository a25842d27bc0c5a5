import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// The event stream and the history as the transition scripts write them, driven step by
/// step through the broker's commands (no worker), so retried calls and late start marks
/// happen exactly as a lost reply or a slow pipeline would make them.
@Suite struct EventStreamTests {
    /// Leases `count` tasks of the default queue to `worker`.
    static func lease(_ f: KaleFixture, count: Int, worker: String = "w1", lease: String = "l1") async throws -> [LeasedTask] {
        let now = Broker.now()
        let reply = try await f.redis.send(f.client.broker.fetch(queue: "default", worker: worker, lease: lease, count: count,
                                                                 leaseDeadline: now + 60_000, now: now))
        return Broker.leased(from: reply, queue: "default", lease: lease)
    }

    @Test func aRetriedAcknowledgementWritesEachStartOnce() async throws {
        let f = KaleFixture { $0.recordAllEvents = true }
        let a = try await f.client.enqueue(name: "t", args: .null)
        let b = try await f.client.enqueue(name: "t", args: .null)
        let leased = try await Self.lease(f, count: 2)
        try #require(leased.map(\.id) == [a.id, b.id])
        let broker = f.client.broker
        let now = Broker.now()
        #expect(try await f.redis.send(broker.startCommand(leased[0], worker: "w1", now: now)).int == 1)
        // The reply of the first start was lost: the worker sends it again.
        #expect(try await f.redis.send(broker.startCommand(leased[0], worker: "w1", now: now)).int == 1)
        let succeed = broker.succeedCommand(leased[0], worker: "w1", result: Array("1".utf8), startedAt: now, now: now + 1,
                                            thenStart: leased[1])
        _ = try await f.redis.send(succeed)
        // And the reply of the result with the next start folded in was lost too.
        _ = try await f.redis.send(succeed)
        for id in [a.id, b.id] {
            let kinds = try await f.client.events(for: id, queue: "default").map(\.kind)
            #expect(kinds.filter { $0 == "started" }.count == 1, "\(id): \(kinds)")
        }
        #expect(try await f.client.events(for: a.id, queue: "default").map(\.kind) == ["enqueued", "started", "succeeded"])
        let history = try #require(try await f.client.history(of: ["default"], last: .seconds(120)).first)
        #expect(history.total("succeeded", last: .seconds(120)) == 1, "the retried result is counted once")
    }

    @Test func aRunEndedBeforeItsStartMarkArrivedStillStartsFirst() async throws {
        let f = KaleFixture { $0.recordAllEvents = true }
        let a = try await f.client.enqueue(name: "t", args: .null)
        let leased = try await Self.lease(f, count: 1)
        let broker = f.client.broker
        let now = Broker.now()
        // The start mark is sent without waiting; here the result overtakes it.
        _ = try await f.redis.send(broker.succeedCommand(leased[0], worker: "w1", result: Array("1".utf8), startedAt: now, now: now + 5))
        _ = try await f.redis.send(broker.startCommand(leased[0], worker: "w1", now: now))
        #expect(try await f.client.events(for: a.id, queue: "default").map(\.kind) == ["enqueued", "started", "succeeded"])
    }

    @Test func aDeadTaskRetriedWaitsFromItsRetryNotFromItsEnqueue() async throws {
        let f = KaleFixture()
        let ref = try await f.client.enqueue(name: "t", args: .null, options: .init(maxRetries: 0))
        let enqueuedAt = Int64(try await f.redis.send("HGET", f.keys.task("default", ref.id), "enqueued_at").string ?? "") ?? 0
        let leased = try await Self.lease(f, count: 1)
        let broker = f.client.broker
        _ = try await f.redis.send(broker.failCommand(leased[0], worker: "w1", failure: TaskFailure(kind: .error, type: "E", message: "x"),
                                                      retryAt: nil, cancelled: false, startedAt: Broker.now(), now: Broker.now()))
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await f.client.retryDead(id: ref.id) != nil)
        let again = try await Self.lease(f, count: 1, lease: "l2")
        let readyAt = try #require(again.first?.readyAt)
        #expect(readyAt >= enqueuedAt + 300, "the wait starts at the retry, not the enqueue: \(readyAt - enqueuedAt) ms")
    }

    @Test func frequentEventsAreWrittenWhileSomeoneWatchesFailuresAlways() async throws {
        let f = KaleFixture()
        func run(_ client: KaleClient, _ ok: Bool, lease: String) async throws -> String {
            let ref = try await client.enqueue(name: "t", args: .null, options: .init(maxRetries: 0))
            let task = try #require(try await Self.lease(f, count: 1, lease: lease).first)
            let broker = client.broker
            let now = Broker.now()
            _ = try await f.redis.send(broker.startCommand(task, worker: "w1", now: now))
            if ok {
                _ = try await f.redis.send(broker.succeedCommand(task, worker: "w1", result: Array("1".utf8), startedAt: now, now: now + 1))
            } else {
                _ = try await f.redis.send(broker.failCommand(task, worker: "w1", failure: TaskFailure(kind: .error, type: "Boom", message: "x"),
                                                              retryAt: nil, cancelled: false, startedAt: now, now: now + 1))
            }
            return ref.id
        }
        let quiet = try await run(f.client, true, lease: "l1")
        let failed = try await run(f.client, false, lease: "l2")
        #expect(try await f.client.events(for: quiet, queue: "default").isEmpty, "nobody watched: no enqueued/started/succeeded")
        #expect(try await f.client.events(for: failed, queue: "default").map(\.kind) == ["dead"])
        try await f.client.watchEvents(queues: ["default"])
        let pttl = try await f.redis.send("PTTL", f.keys.eventWatch("default")).int ?? -1
        #expect(pttl > 0 && pttl <= 15_000, "a watch mark expires by itself")
        // A process learns of the watch when it next asks: a producer before its first enqueue
        // to the queue, then every 5 s. This client asked 0 s ago: it still thinks unwatched.
        let stale = try await run(f.client, true, lease: "l3")
        #expect(try await f.client.events(for: stale, queue: "default").isEmpty)
        let fresh = KaleClient(configuration: f.configuration)
        let first = try await run(fresh, true, lease: "l4")
        #expect(try await f.client.events(for: first, queue: "default").map(\.kind) == ["enqueued", "started", "succeeded"])
    }
}
