import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct PurgeTests {
    @Test func purgeFreesTheUniqueKeysOfThePurgedTasks() async throws {
        let f = KaleFixture()
        let pending = try await f.client.enqueue(name: "t.u", args: .null, options: .init(queue: "p", uniqueKey: "pending-key"))
        let scheduled = try await f.client.enqueue(name: "t.u", args: .null, options: .init(queue: "p", delay: .seconds(600), uniqueKey: "scheduled-key"))
        // A key that has passed to another task (its TTL ran out, someone else took it) stays.
        let handedOn = try await f.client.enqueue(name: "t.u", args: .null, options: .init(queue: "p", uniqueKey: "handed-on"))
        try await f.redis.send("SET", f.keys.unique("p", "handed-on"), "another-task")
        #expect(pending.created && scheduled.created && handedOn.created)

        #expect(try await f.client.purge(queue: "p") == 3)

        #expect(try await f.redis.send("EXISTS", f.keys.unique("p", "pending-key"), f.keys.unique("p", "scheduled-key")).int == 0)
        #expect(try await f.redis.send("GET", f.keys.unique("p", "handed-on")).string == "another-task")
        let again = try await f.client.enqueue(name: "t.u", args: .null, options: .init(queue: "p", uniqueKey: "pending-key"))
        let laterAgain = try await f.client.enqueue(name: "t.u", args: .null, options: .init(queue: "p", delay: .seconds(600), uniqueKey: "scheduled-key"))
        #expect(again.created && laterAgain.created, "enqueues after the purge create tasks")
        #expect(try await f.auditQueue("p", ids: [again.id, laterAgain.id]).isEmpty)
    }

    /// Dying frees a unique key already, so this needs a record moved to the dead set by hand.
    @Test func deadPurgeFreesAUniqueKeyStillHeldByTheDeadTask() async throws {
        let f = KaleFixture()
        let task = try await f.client.enqueue(name: "t.u", args: .null, options: .init(queue: "d", uniqueKey: "dead-key"))
        _ = try await f.redis.pipeline([
            RedisCommand("LREM", f.keys.pending("d", .normal), 0, task.id),
            RedisCommand("HSET", f.keys.task("d", task.id), "state", "dead"),
            RedisCommand("ZADD", f.keys.dead("d"), Broker.now(), task.id),
        ])
        #expect(try await f.client.purgeDead(queue: "d") == ["d": 1])
        #expect(try await f.redis.send("EXISTS", f.keys.unique("d", "dead-key")).int == 0)
        let again = try await f.client.enqueue(name: "t.u", args: .null, options: .init(queue: "d", uniqueKey: "dead-key"))
        #expect(again.created)
        #expect(try await f.auditQueue("d", ids: [again.id]).isEmpty)
    }
}
