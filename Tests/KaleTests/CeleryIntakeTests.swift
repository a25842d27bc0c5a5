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

    private func intake(_ f: KaleFixture, prefix: String, keys given: CeleryKeys? = nil, now: Int64 = Broker.now()) async throws -> [Int] {
        let keys = given ?? CeleryKeys(brokerPrefix: prefix, resultPrefix: prefix)
        let command = f.client.broker.celeryIntakeCommand(
            queue: "celery", buckets: keys.buckets("celery"), intake: f.keys.celeryIntake("celery", brokerPrefix: prefix),
            resultKeyPrefix: keys.resultKeyPrefix, resultExpires: 60, maxRetries: 3, limit: 100, now: now)
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

extension CeleryIntakeTests {
    /// A message over the size limit is kept in the dead set under its own id and answered
    /// with a FAILURE, so the caller's get() raises instead of waiting.
    @Test func anOversizedMessageIsAnsweredUnderItsOwnID() async throws {
        let f = KaleFixture { $0.maxMessageSize = 4096 }
        let prefix = f.keys.prefix + "-c:"
        let call = CeleryMessageWriter.Call(id: "big-1", task: "kale.echo", kwargs: ["blob": .string(String(repeating: "x", count: 10_000))])
        _ = try await f.redis.send("LPUSH", prefix + "celery", try CeleryMessageWriter().envelope(call))
        #expect(try await intake(f, prefix: prefix) == [1, 0, 1])
        let info = try #require(try await f.client.status(of: "big-1", queue: "celery"))
        #expect(info.state == .dead && info.error?.type == "PayloadTooLarge", "\(info)")
        let meta = try #require(try await f.redis.send("GET", prefix + "celery-task-meta-big-1").bytes.flatMap(CeleryResult.init(json:)))
        #expect(meta.status == "FAILURE" && CeleryTaskError(meta).type == "PayloadTooLarge")
        #expect(try await f.redis.send("HSTRLEN", f.keys.task("celery", "big-1"), "msg").int ?? 0 > 10_000)
    }

    /// kombu's priority_steps and sep transport options (ten real levels, ':' as separator).
    @Test func customPriorityStepsAndSeparatorAreRead() async throws {
        let f = KaleFixture()
        let prefix = f.keys.prefix + "-c:"
        let keys = CeleryKeys(brokerPrefix: prefix, resultPrefix: prefix, prioritySteps: Array(0...9), separator: ":")
        #expect(keys.bucket("celery", priority: 7) == prefix + "celery:7" && keys.bucket("celery", priority: 0) == prefix + "celery")
        #expect(keys.binding("celery").member == "celery::celery")
        for p in [0, 4, 7] {
            _ = try await f.redis.send("LPUSH", keys.bucket("celery", priority: p), try message(id: "p\(p)", priority: p))
        }
        #expect(try await intake(f, prefix: prefix, keys: keys) == [3, 0, 0])
        #expect(try await f.redis.send("LRANGE", f.keys.pending("celery", .high), 0, -1).strings == ["p0"])
        #expect(try await f.redis.send("LRANGE", f.keys.pending("celery", .normal), 0, -1).strings == ["p4"])
        #expect(try await f.redis.send("LRANGE", f.keys.pending("celery", .low), 0, -1).strings == ["p7"])
    }

    /// Celery appends '_' to a result prefix unless it ends in one of ':_-.'.
    @Test func theResultPrefixFollowsCeleryRule() {
        #expect(CeleryKeys(resultPrefix: "app").result("x") == "app_celery-task-meta-x")
        #expect(CeleryKeys(resultPrefix: "app:").result("x") == "app:celery-task-meta-x")
        #expect(CeleryKeys(resultPrefix: "app.").result("x") == "app.celery-task-meta-x")
        #expect(CeleryKeys().result("x") == "celery-task-meta-x")
    }

    /// A retried acknowledgement (its first try ran, its reply was lost) must not send the
    /// task's callbacks twice.
    @Test func aRetriedSucceedSendsItsCallbacksOnce() async throws {
        let f = KaleFixture()
        let ref = try await f.client.enqueue(name: "kale.echo", args: .object([:]))
        let leased = Broker.leased(from: try await f.redis.send(f.client.broker.fetch(
            queue: ref.queue, worker: "w", lease: "l1", count: 1, leaseDeadline: Broker.now() + 10_000, now: Broker.now())),
            queue: ref.queue, lease: "l1")
        let task = try #require(leased.first)
        let list = f.keys.prefix + "-c:celery"
        let succeed = f.client.broker.succeedCommand(task, worker: "w", result: Array("1".utf8), startedAt: Broker.now(), now: Broker.now(),
                                                     forward: [Broker.Forward(list: list, message: Array("next".utf8))])
        #expect(try await f.redis.send(succeed).int == 1)
        #expect(try await f.redis.send(succeed).int == 1)
        #expect(try await f.redis.send("LLEN", list).int == 1)
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
        // The trace context goes on with the messages the task sends (here: a chain's next step).
        var chained = call
        chained.embed = ["chain": .array([.object(["task": "kale.echo", "args": .array([]), "kwargs": .object([:]),
                                                   "options": .object(["queue": "swift"]), "subtask_type": .null,
                                                   "immutable": false])])]
        let next = try #require(CeleryRequest(try CeleryMessage(envelope: try CeleryMessageWriter(origin: "t@h").envelope(chained))
            .envelope(queue: "swift")))
        let forwards = try next.successors(of: 5, configuration: CeleryConfiguration(), writer: CeleryMessageWriter(origin: "t@h"))
        let sent = try CeleryMessage(envelope: try #require(forwards.first).message)
        #expect(sent.headers["traceparent"] == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(sent.headers["parent_id"] == "m-1" && sent.headers["root_id"] == "root-1" && sent.args == [5])
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
