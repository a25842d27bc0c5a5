import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import KaleWorker
import Testing

@Suite(.timeLimit(.minutes(3))) struct BadInputTests {
    /// Writes a task record and its pending entry straight into Redis, bypassing the client.
    private func inject(_ f: KaleFixture, id: String, message: String?) -> [RedisCommand] {
        var commands: [RedisCommand] = []
        if let message {
            commands.append(RedisCommand("HSET", f.keys.task("default", id), "msg", message, "state", "pending",
                                         "prio", 1, "attempt", 0, "max_retries", 3))
        }
        commands.append(RedisCommand("LPUSH", f.keys.pending("default", .normal), id))
        return commands
    }

    private func envelope(_ id: String, name: String, args: String, version: Int = 1) -> String {
        #"{"v":\#(version),"id":"\#(id)","name":"\#(name)","queue":"default","args":\#(args),"enqueued_at":1}"#
    }

    @Test func garbageOfEveryKindIsDeadLetteredWhileValidTasksSucceed() async throws {
        let f = KaleFixture { $0.maxMessageSize = 4096 }
        let counter = f.keys.prefix + ":runs"
        let kinds: [(name: String, reason: String, message: (String) -> String?)] = [
            ("notjson", "MalformedMessage", { _ in "this is { not json" }),
            ("version", "MalformedMessage", { self.envelope($0, name: "test.count", args: #"{"n":1}"#, version: 9) }),
            ("unknown", "UnknownTask", { self.envelope($0, name: "no.such.task", args: "{}") }),
            ("badinput", "InvalidInput", { self.envelope($0, name: "test.count", args: #"{"n":"seven"}"#) }),
            ("oversize", "PayloadTooLarge", { self.envelope($0, name: "test.count", args: #"{"n":1,"pad":"\#(String(repeating: "x", count: 5000))"}"#) }),
            ("missing", "MissingRecord", { _ in nil }),
        ]
        var garbage: [String: String] = [:]
        var commands: [RedisCommand] = []
        var valid: [String] = []
        for i in 0..<500 {
            for kind in kinds {
                let id = "\(kind.name)-\(i)"
                garbage[id] = kind.reason
                commands += inject(f, id: id, message: kind.message(id))
            }
            // A valid task between each round of garbage.
            let ref = try await f.client.broker.redis.send(
                f.client.broker.enqueueCommand(
                    Envelope(id: "valid-\(i)", name: CountingTask.name, queue: "default", args: .object(["n": .number(Double(i))]), enqueuedAt: Broker.now()),
                    message: Array(envelope("valid-\(i)", name: CountingTask.name, args: #"{"n":\#(i)}"#).utf8), uniqueTTL: nil, now: Broker.now()))
            #expect(ref.array?.first?.int == 1)
            valid.append("valid-\(i)")
            if commands.count > 1000 {
                for r in try await f.redis.pipeline(commands) { try r.throwingServerError() }
                commands.removeAll()
            }
        }
        for r in try await f.redis.pipeline(commands) { try r.throwingServerError() }
        _ = try await f.redis.send("SADD", f.keys.queues, "default")

        let registry = TaskRegistry()
        registry.register(CountingTask(redis: f.redis, counter: counter))
        let worker = f.startWorker(registry: registry, concurrency: 4)
        let finished = try await waitUntil(timeout: .seconds(60)) {
            let dead = try await f.redis.send("ZCARD", f.keys.dead("default")).int
            let ran = try await f.redis.send("HLEN", counter).int
            return dead == garbage.count && ran == valid.count
        }
        try await worker.stop()
        #expect(finished, "all garbage dead-lettered and all valid tasks run")
        let counts = try await f.runCounts(counter)
        #expect(valid.allSatisfy { counts[$0] == 1 })
        let records = try await f.redis.pipeline(garbage.keys.map { RedisCommand("HMGET", f.keys.task("default", $0), "state", "error") })
        var wrong: [String] = []
        for (id, record) in zip(garbage.keys, records) {
            let fields = record.strings ?? []
            let error = fields.count > 1 ? fields[1] : ""
            if fields.first != "dead" || !error.contains(garbage[id]!) { wrong.append("\(id): \(fields)") }
        }
        #expect(wrong.isEmpty, "each dead letter names its reason: \(wrong.prefix(5))")
        #expect(try await f.auditQueue("default", ids: valid + Array(garbage.keys)).isEmpty)
    }

    @Test func wrongArgumentTypesAreNotRetried() async throws {
        let f = KaleFixture()
        let registry = TaskRegistry()
        registry.register(CountingTask(redis: f.redis, counter: f.keys.prefix + ":runs"))
        let worker = f.startWorker(registry: registry)
        let ref = try await f.client.enqueue(name: CountingTask.name, args: .object(["n": .string("x")]), options: .init(maxRetries: 5))
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(5))
        try await worker.stop()
        #expect(info.state == .dead)
        #expect(info.attempt == 1)
        #expect(info.error?.kind == .rejected)
        #expect(info.error?.message.contains("'n'") == true)
    }
}
