import Foundation
import Kale
import KaleCelery
import KaleRedis
import KaleTestSupport
import Testing

/// The intake script on its own (no worker): what a Celery message becomes in Kale's keys.
@Suite struct CeleryIntakeTests {
    private let celery = CeleryConfiguration(queues: ["celery"], brokerKeyPrefix: "", resultKeyPrefix: "")

    /// A Celery 5 message for `kale.echo` whose header `name` is set to `value` (raw text).
    private func message(id: String, header name: String? = nil, _ value: JSONValue = .null, priority: Int = 0) throws -> [UInt8] {
        let bytes = try CeleryMessageWriter(origin: "test@host").envelope(.init(id: id, task: "kale.echo", priority: priority))
        var envelope = try #require(try JSONValue(parsing: bytes).objectValue)
        var headers = try #require(envelope["headers"]?.objectValue)
        if let name { headers[name] = value }
        envelope["headers"] = .object(headers)
        return try JSONValue.object(envelope).bytes()
    }

    private func intake(_ f: KaleFixture, prefix: String, now: Int64 = Broker.now()) async throws -> [Int] {
        let keys = CeleryKeys(brokerPrefix: prefix, resultPrefix: prefix)
        let command = f.client.broker.celeryIntakeCommand(
            queue: "celery", buckets: keys.buckets("celery"), resultKeyPrefix: keys.resultKeyPrefix,
            resultExpires: 60, maxRetries: 3, limit: 100, now: now)
        return try await f.redis.send(command).array?.compactMap(\.int) ?? []
    }

    @Test func etaInEveryISOFormPythonWritesIsScheduledAtItsInstant() async throws {
        let f = KaleFixture()
        let prefix = f.keys.prefix + "-c:"
        let cases: [(String, Int64)] = [
            ("2030-01-01T06:00:00.123456+00:00", 1_893_477_600_123), ("2030-01-01T06:00:00", 1_893_477_600_000),
            ("2030-01-01T08:00:00+02:00", 1_893_477_600_000), ("2030-01-01T06:00:00Z", 1_893_477_600_000),
            ("2030-01-01T01:00:00-05:00", 1_893_477_600_000), ("2028-02-29T12:00:00+00:00", 1_835_438_400_000),
        ]
        for (i, c) in cases.enumerated() {
            _ = try await f.redis.send("LPUSH", prefix + "celery", try message(id: "eta-\(i)", header: "eta", .string(c.0)))
        }
        #expect(try await intake(f, prefix: prefix) == [cases.count, cases.count, 0])
        for (i, c) in cases.enumerated() {
            let score = try await f.redis.send("ZSCORE", f.keys.scheduled("celery"), "eta-\(i)").string.flatMap { Double($0) }
            #expect(score.map { Int64($0) } == c.1, "\(c.0)")
        }
        #expect(try await f.redis.send("LLEN", prefix + "celery").int == 0)
    }

    @Test func anExpiredMessageEndsRevokedAndADuplicateIsKeptAside() async throws {
        let f = KaleFixture()
        let prefix = f.keys.prefix + "-c:"
        _ = try await f.redis.send("LPUSH", prefix + "celery", try message(id: "old", header: "expires", "2001-01-01T00:00:00"))
        _ = try await f.redis.send("LPUSH", prefix + "celery" + CeleryKeys.separator + "9", try message(id: "twice", priority: 9))
        _ = try await f.redis.send("LPUSH", prefix + "celery" + CeleryKeys.separator + "9", try message(id: "twice", priority: 9))
        #expect(try await intake(f, prefix: prefix) == [3, 0, 2])
        #expect(try await f.client.status(of: "old", queue: "celery")?.state == .expired)
        let meta = try #require(try await f.redis.send("GET", prefix + "celery-task-meta-old").bytes.flatMap(CeleryResult.init(json:)))
        #expect(meta.status == "REVOKED" && meta.taskID == "old")
        #expect(CeleryTaskError(meta).type == "TaskRevokedError")
        // Priority 9 is Kale's low list; the second copy waits in the dead set, not run twice.
        #expect(try await f.redis.send("LRANGE", f.keys.pending("celery", .low), 0, -1).strings == ["twice"])
        let dead = try await f.redis.send("ZRANGE", f.keys.dead("celery"), 0, -1).strings ?? []
        #expect(dead.count == 1 && dead[0].hasPrefix("twice-dup-"), "\(dead)")
        // The meta of a SUCCESS is never overwritten by a later outcome of the same id.
        _ = try await f.redis.send("SET", prefix + "celery-task-meta-done",
                                   #"{"status": "SUCCESS", "result": 1, "task_id": "done"}"#)
        _ = try await f.redis.send("LPUSH", prefix + "celery", try message(id: "done", header: "expires", "2001-01-01T00:00:00"))
        _ = try await intake(f, prefix: prefix)
        let kept = try #require(try await f.redis.send("GET", prefix + "celery-task-meta-done").bytes.flatMap(CeleryResult.init(json:)))
        #expect(kept.status == "SUCCESS")
    }
}

/// Reading a Celery message into the envelope a Kale worker runs.
@Suite struct CeleryMessageTests {
    @Test func headersBecomeLimitsPriorityAndTraceContext() throws {
        var call = CeleryMessageWriter.Call(id: "m-1", task: "kale.add", args: [2], kwargs: ["y": 3], queue: "swift", priority: 7,
                                            hardTimeLimit: 30, softTimeLimit: 20.5, rootID: "root-1", parentID: "parent-1")
        call.headers = ["traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "k=v"]
        let message = try CeleryMessage(envelope: try CeleryMessageWriter(origin: "t@h").envelope(call))
        let envelope = message.envelope(queue: "swift")
        // timelimit is [hard, soft] (CELERY.md P7).
        #expect(envelope.timeLimitMs == 30_000 && envelope.softTimeLimitMs == 20_500)
        #expect(envelope.priority == .low)
        #expect(envelope.headers["traceparent"] == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(envelope.headers["tracestate"] == "k=v")
        let request = try #require(CeleryRequest(envelope))
        #expect(request.rootID == "root-1")
        #expect(try request.arguments(names: ["x", "y"]) == .object(["x": 2, "y": 3]))
        #expect(throws: TaskFailure.self) { try request.arguments(names: ["y"]) }
        #expect(throws: TaskFailure.self) { try request.arguments(names: []) }
    }

    @Test func theWriterProducesWhatTheCelery5ClientDoes() throws {
        let bytes = try CeleryMessageWriter(origin: "t@h").envelope(.init(id: "w-1", task: "proj.add", args: [2, 2]))
        let e = try #require(try JSONValue(parsing: bytes).objectValue)
        #expect(e["content-type"] == "application/json" && e["content-encoding"] == "utf-8")
        let properties = try #require(e["properties"]?.objectValue)
        #expect(properties["delivery_info"] == .object(["exchange": "", "routing_key": "celery"]))
        #expect(properties["body_encoding"] == "base64" && properties["correlation_id"] == "w-1")
        #expect(properties["delivery_tag"]?.stringValue?.count == 36)
        let headers = try #require(e["headers"]?.objectValue)
        #expect(headers["root_id"] == "w-1" && headers["timelimit"] == .array([.null, .null]) && headers["argsrepr"] == "(2, 2)")
        let body = try #require(Data(base64Encoded: e["body"]?.stringValue ?? ""))
        #expect(try JSONValue(parsing: body) == .array([.array([2, 2]), .object([:]),
                                                         .object(["callbacks": .null, "errbacks": .null, "chain": .null, "chord": .null])]))
    }
}
