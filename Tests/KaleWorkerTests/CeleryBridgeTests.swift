import Foundation
import Glibc
import Kale
import KaleCelery
import KaleRedis
import KaleTestSupport
import Testing

/// The Celery bridge against a real Celery 5.7 client and worker from PyPI, a real redis-server
/// and real `kale worker` daemons (issue 13).
@Suite(.serialized, .timeLimit(.minutes(4))) struct CeleryBridgeTests {
    private func field(_ v: JSONValue, _ path: String...) -> JSONValue? {
        var cur: JSONValue? = v
        for p in path { cur = cur?[p] }
        return cur
    }

    private func line(_ lines: [JSONValue], _ key: String) throws -> JSONValue {
        try #require(lines.first { $0[key] != nil }?[key], "bridge.py printed no '\(key)': \(lines)")
    }

    /// The ids of the Celery tasks a test created, read from Kale's records of the queue.
    private func bridgedIDs(_ f: KaleFixture, _ queue: String = "celery") async throws -> [String] {
        var ids: Set<String> = []
        var cursor = "0"
        repeat {
            let reply = try await f.redis.send("SCAN", cursor, "MATCH", f.keys.taskPrefix(queue) + "*", "COUNT", 1000)
            let parts = reply.array ?? []
            cursor = parts.first?.string ?? "0"
            for key in parts.count > 1 ? parts[1].strings ?? [] : [] { ids.insert(String(key.dropFirst(f.keys.taskPrefix(queue).count))) }
        } while cursor != "0"
        return Array(ids)
    }

    @Test func pythonClientsGetKaleResultsAndFailures() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        let worker = try await py.kaleWorker(f)
        let lines = try await py.run("basic")
        let text = "héllo wörld ✓ 日本語 🥬"
        #expect(field(try line(lines, "send_task"), "value", "text") == .string(text))
        #expect(field(try line(lines, "apply_async"), "value") == .object(["text": .string(text), "n": 1]))
        #expect(field(try line(lines, "positional"), "value") == 5)
        let tooMany = try line(lines, "too_many")
        #expect(tooMany["raised"] == "InvalidInput")
        #expect(tooMany["message"]?.stringValue?.contains("at most 2 positional arguments (x, y), but 3 were given") == true)
        // kombu's tagged values and Python's NaN/Infinity decode without error.
        let tagged = try line(lines, "tagged")
        #expect(field(tagged, "value", "when") == "2026-12-01T10:00:00")
        #expect(field(tagged, "value", "price") == "9.99")
        #expect(field(tagged, "value", "uid") == "6f1c2d4e-0000-4000-8000-000000000001")
        #expect(field(tagged, "value", "nan") == "NaN" && field(tagged, "value", "inf") == "Infinity")
        let failure = try line(lines, "failure")
        #expect(failure["state"] == "FAILURE" && failure["message"] == "Swift says nö", "\(failure)")
        let unknown = try line(lines, "unknown")
        #expect(unknown["raised"] == "NotRegistered" && unknown["module"] == "celery.exceptions", "\(unknown)")
        #expect((lines.first { $0["unknown"] != nil }?["seconds"]?.doubleValue ?? 99) < 5)
        let expired = try line(lines, "expired")
        #expect(expired["raised"] == "TaskRevokedError" && expired["state"] == "REVOKED", "\(expired)")
        let limit = try line(lines, "time_limit")
        #expect(limit["raised"] == "TimeLimitExceeded" && limit["module"] == "billiard.exceptions", "\(limit)")

        let ids = try await bridgedIDs(f)
        #expect(ids.count == 9)
        #expect(try await f.auditCelery(py, ids: ids).isEmpty)
        #expect(await worker.stop() == 0)
    }

    @Test func twoHundredSendTasksAllReturn() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        let worker = try await py.kaleWorker(f)
        let lines = try await py.run("many", "200")
        #expect(lines.first?["ok"] == .bool(true) && lines.first?["count"] == 200, "\(lines)")
        let ids = try await bridgedIDs(f)
        #expect(ids.count == 200)
        #expect(try await f.auditCelery(py, ids: ids).isEmpty)
        #expect(await worker.stop() == 0)
    }

    @Test func prioritiesLandInKombusBucketsAndAllRun() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        var ids: [String] = []
        for p in [0, 5, 9] {
            let sent = try await py.run("send", "kale.echo", #"{"p": \#(p)}"#, "priority=\(p)")
            ids.append(try #require(sent.first?["id"]?.stringValue))
        }
        // No worker yet: the messages wait in kombu's lists 0, 3 and 9.
        let lengths = try await py.run("buckets", "celery")
        #expect(lengths.first?["lengths"] == .array([1, 1, 0, 1]), "\(lengths)")
        let worker = try await py.kaleWorker(f, waitUntilReady: false)
        let results = try await py.run(["get"] + ids)
        #expect(results.map { $0["state"] } == [.string("SUCCESS"), .string("SUCCESS"), .string("SUCCESS")], "\(results)")
        #expect(results.map { field($0, "value", "p") } == [0, 5, 9])
        #expect(try await f.auditCelery(py, ids: ids).isEmpty)
        #expect(await worker.stop() == 0)
    }

    @Test func aCountdownRunsOnTimeThroughAKilledWorker() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        let a = try await py.kaleWorker(f)
        let sent = try await py.run("send", "kale.echo", #"{"late": true}"#, "countdown=2")
        let id = try #require(sent.first?["id"]?.stringValue)
        let sentMs = try #require(sent.first?["sent_ms"]?.doubleValue)
        // Taken over at once: Kale's scheduled set holds it, not kombu's memory.
        #expect(try await waitUntil { try await f.redis.send("ZSCORE", f.keys.scheduled("celery"), id).string != nil })
        a.signal(SIGKILL)
        _ = await a.waitForExit()
        let b = try await py.kaleWorker(f, waitUntilReady: false)
        let got = try await py.run("get", id)
        #expect(got.first?["state"] == "SUCCESS", "\(got)")
        let info = try #require(try await f.client.status(of: id, queue: "celery"))
        let started = try #require(info.startedAt).timeIntervalSince1970 * 1000
        #expect(abs(started - sentMs - 2000) <= 300, "started \(started - sentMs) ms after the send")
        #expect(try await f.auditCelery(py, ids: [id]).isEmpty)
        #expect(await b.stop() == 0)
    }

    @Test func killingAWorkerWithAHundredBridgedTasksLosesNoResult() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        let args = py.workerArguments() + ["--lease", "2s"]
        let a = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: args)
        let b = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: args)
        try await a.waitUntilReady(f)
        try await b.waitUntilReady(f)
        let sent = try await py.run("send-many", "kale.sleep", #"{"ms": 100}"#, "100")
        let ids = (sent.first?["ids"]?.arrayValue ?? []).compactMap { $0.stringValue }
        let aID = try #require(try await a.workerID(f))
        #expect(try await waitUntil { (try await children(of: aID, f).values.contains { $0 != nil }) })
        a.signal(SIGKILL)
        let results = try await py.run(["get"] + ids)
        #expect(results.count == 100)
        #expect(results.allSatisfy { $0["state"] == "SUCCESS" }, "\(results.filter { $0["state"] != "SUCCESS" })")
        #expect(try await f.auditCelery(py, ids: ids).isEmpty)
        #expect(await b.stop() == 0)
    }

    @Test func linksChainsAndErrbacksFromPythonAreHonoured() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        let worker = try await py.kaleWorker(f)
        let lines = try await py.run("canvas")
        #expect(field(try line(lines, "linked"), "value") == 3)
        #expect(field(try line(lines, "callback"), "value") == 13)
        #expect(field(try line(lines, "chain"), "value") == 112)
        #expect(field(try line(lines, "parent"), "value") == 12)
        let failedID = try #require(lines.first { $0["failed"] != nil }?["id"]?.stringValue)
        #expect(field(try line(lines, "errback"), "value", "value") == .string(failedID))
        let chord = try line(lines, "chord")
        #expect(chord["raised"] == "Unsupported" && chord["message"]?.stringValue?.contains("chord") == true, "\(chord)")
        // The chord's own result (its body) fails too, instead of never arriving.
        let body = try line(lines, "body")
        #expect(body["raised"] == "ChordError" && body["state"] == "FAILURE", "\(body)")
        #expect(try await f.auditCelery(py, ids: try await bridgedIDs(f)).isEmpty)
        #expect(await worker.stop() == 0)
    }

    @Test func badMessagesGoToTheDeadSetWithAReasonAndAFailurePythonCanRead() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        let worker = try await py.kaleWorker(f)
        let list = py.prefix + "celery"
        let info = #""properties": {"delivery_info": {"exchange": "", "routing_key": "celery"}, "delivery_tag": "t", "body_encoding": "base64"}"#
        let v1Body = Data(#"{"task": "kale.echo", "id": "bad-v1", "args": [], "kwargs": {}}"#.utf8).base64EncodedString()
        let shapeBody = Data(#"{"not": "a list"}"#.utf8).base64EncodedString()
        let garbage = [
            "this is not JSON",
            #"{"body": "", "headers": {"id": "bad-noinfo", "task": "kale.echo"}, "properties": {}}"#,
            #"{"body": "%%%not base64", "content-type": "application/json", "headers": {"id": "bad-base64", "task": "kale.echo"}, \#(info)}"#,
            #"{"body": "\#(shapeBody)", "headers": {"id": "bad-shape", "task": "kale.echo"}, \#(info)}"#,
            #"{"body": "\#(v1Body)", "headers": {}, \#(info)}"#,
            #"{"body": "W10=", "content-type": "application/x-python-serialize", "headers": {"id": "bad-pickle", "task": "kale.echo"}, \#(info)}"#,
        ]
        for g in garbage { _ = try await f.redis.send("LPUSH", list, g) }
        let named = ["bad-noinfo", "bad-base64", "bad-shape", "bad-v1", "bad-pickle"]
        #expect(try await waitUntil { (try await f.redis.send("ZCARD", f.keys.dead("celery")).int ?? 0) == garbage.count })
        for id in named {
            let error = try await f.redis.send("HGET", f.keys.task("celery", id), "error").string ?? ""
            #expect(error.contains("MalformedMessage"), "\(id): \(error)")
        }
        let v1 = try await f.redis.send("HGET", f.keys.task("celery", "bad-v1"), "error").string ?? ""
        #expect(v1.contains("protocol 1"), "\(v1)")
        // Python's get() raises for each one that had an id, instead of hanging.
        let results = try await py.run(["get"] + named)
        #expect(results.allSatisfy { $0["state"] == "FAILURE" && $0["raised"] == "MalformedMessage" }, "\(results)")
        // The daemon keeps running and serving.
        let good = try await py.run("send", "kale.echo", #"{"fine": true}"#)
        let goodID = try #require(good.first?["id"]?.stringValue)
        #expect(try await py.run("get", goodID).first?["state"] == "SUCCESS")
        #expect(try await f.auditCelery(py, ids: try await bridgedIDs(f)).isEmpty)
        #expect(await worker.stop() == 0)
    }

    @Test func aRetryKeepsTheCeleryIDAndShowsAsRetry() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        let worker = try await py.kaleWorker(f, ["--celery-retries", "1"])
        let sent = try await py.run("send", "kale.fail", #"{"message": "again"}"#)
        let id = try #require(sent.first?["id"]?.stringValue)
        let key = py.prefix + "celery-task-meta-" + id
        let sawRetry = try await waitUntil(timeout: .seconds(10)) {
            (try await f.redis.send("GET", key).string ?? "").contains(#""status": "RETRY""#)
        }
        #expect(sawRetry)
        let got = try await py.run("get", id)
        #expect(got.first?["state"] == "FAILURE" && got.first?["message"] == "again", "\(got)")
        #expect(try await f.client.status(of: id, queue: "celery")?.attempt == 2)
        #expect(try await f.auditCelery(py, ids: [id]).isEmpty)
        #expect(await worker.stop() == 0)
    }

    @Test func swiftProducersRunOnARealCeleryWorker() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        let celeryWorker = try py.celeryWorker(queue: "py")
        defer { kill(celeryWorker.processIdentifier, SIGKILL) }
        let celery = CeleryClient(kale: f.client, configuration: CeleryConfiguration(brokerKeyPrefix: py.prefix, resultKeyPrefix: py.prefix))
        var call = CeleryMessageWriter.Call(task: "py.add", kwargs: ["x": 2, "y": 40], queue: "py")
        let sum = try await celery.send(call, wait: .seconds(60))
        #expect(try sum.value(as: Int.self) == 42)
        call = CeleryMessageWriter.Call(task: "py.add", args: [1, 2], queue: "py", priority: 9, eta: Broker.now() + 300)
        #expect(try await celery.send(call).get(Int.self, timeout: .seconds(30)) == 3)
        let boom = try await celery.send("py.boom", kwargs: ["message": "Python says nö"], queue: "py")
        let error = await #expect(throws: CeleryTaskError.self) { try await boom.get(Int.self, timeout: .seconds(30)) }
        #expect(error?.type == "ValueError" && error?.message == "Python says nö", "\(String(describing: error))")

        // The CLI sends the same format.
        let (status, output) = try runKale(["enqueue", "py.add", "--celery", "--queue", "py", "--args", #"{"x": 20, "y": 22}"#,
                                            "--wait", "--timeout", "30s", "--json", "--celery-broker-prefix", py.prefix,
                                            "--celery-result-prefix", py.prefix], f)
        #expect(status == 0)
        let printed = try JSONValue(parsing: Data(output.utf8))
        #expect(printed["state"] == "SUCCESS" && printed["result"] == 42, "\(output)")
        #expect(try await f.auditCelery(py, queue: "py", ids: []).isEmpty)
    }

    @Test func inspectShowsBridgedQueuesBesideKalesOwn() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        let first = try await py.kaleWorker(f)
        #expect(await first.stop() == 0)
        var ids: [String] = []
        for p in [0, 0, 9] {
            ids.append(try #require(try await py.run("send", "kale.echo", "{}", "priority=\(p)").first?["id"]?.stringValue))
        }
        let (status, output) = try runKale(["inspect", "queues", "--json"], f)
        #expect(status == 0)
        let row = output.split(separator: "\n").compactMap { try? JSONValue(parsing: Data($0.utf8)) }.first { $0["celery_queue"] == "celery" }
        #expect(row?["kombu_pending"] == .array([2, 0, 0, 1]) && row?["unacked"] == 0 && row?["intake"] == 0, "\(output)")
        let text = try runKale(["inspect", "queues"], f).output
        #expect(text.contains("CELERY QUEUE") && text.contains(py.prefix + "celery"), "\(text)")
        let second = try await py.kaleWorker(f, waitUntilReady: false)
        #expect(try await py.run(["get"] + ids).allSatisfy { $0["state"] == "SUCCESS" })
        #expect(try await f.auditCelery(py, ids: ids).isEmpty)
        #expect(await second.stop() == 0)
    }

    @Test func ignoreResultWritesNoCeleryResult() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        let worker = try await py.kaleWorker(f)
        let quiet = try #require(try await py.run("send", "kale.echo", "{}", "ignore_result=true").first?["id"]?.stringValue)
        let loud = try #require(try await py.run("send", "kale.echo", "{}").first?["id"]?.stringValue)
        for id in [quiet, loud] {
            #expect(try await waitUntil { try await f.client.status(of: id, queue: "celery")?.state == .succeeded })
        }
        #expect(try await f.redis.send("EXISTS", py.prefix + "celery-task-meta-" + loud).int == 1)
        #expect(try await f.redis.send("EXISTS", py.prefix + "celery-task-meta-" + quiet).int == 0)
        #expect(try await f.auditCelery(py, ids: [quiet, loud]).isEmpty)
        #expect(await worker.stop() == 0)
    }

    @Test func cancelsAndSoftLimitsReachPythonAsCeleryExceptions() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        let worker = try await py.kaleWorker(f)
        let soft = try #require(try await py.run("send", "kale.sleep", #"{"ms": 20000}"#, "soft_time_limit=0.5").first?["id"]?.stringValue)
        let long = try #require(try await py.run("send", "kale.sleep", #"{"ms": 20000}"#).first?["id"]?.stringValue)
        #expect(try await waitUntil { try await f.client.status(of: long, queue: "celery")?.state == .started })
        _ = try await f.client.cancel(id: long, queue: "celery")
        let results = try await py.run("get", soft, long)
        #expect(results.first?["raised"] == "SoftTimeLimitExceeded" && results.first?["module"] == "billiard.exceptions", "\(results)")
        #expect(results.last?["raised"] == "TaskRevokedError" && results.last?["state"] == "REVOKED", "\(results)")
        #expect(try await f.auditCelery(py, ids: [soft, long]).isEmpty)
        #expect(await worker.stop() == 0)
    }

    /// A chain from Python that alternates between the fleets: Kale routes the Python step by
    /// its `--celery-route`, and the Python worker sends the last step back to Kale's queue.
    @Test func aChainCrossesFromKaleToCeleryAndBack() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        let celeryWorker = try py.celeryWorker(queue: "py")
        defer { kill(celeryWorker.processIdentifier, SIGKILL) }
        let worker = try await py.kaleWorker(f, ["--celery-route", "py.*=py"])
        let lines = try await py.run("mixed")
        #expect(field(try line(lines, "chain"), "value") == 112, "\(lines)")
        #expect(try await f.auditCelery(py, ids: try await bridgedIDs(f)).isEmpty)
        #expect(try await f.auditCelery(py, queue: "py", ids: []).isEmpty)
        #expect(await worker.stop() == 0)
    }

    /// With --celery-events, Celery's own event receiver and State (what Flower runs on) see the
    /// Kale worker alive, with its heartbeat figures, and every bridged task's end.
    @Test func celeryEventsLetFlowerSeeTheWorkerAndItsTasks() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        let worker = try await py.kaleWorker(f, ["--celery-events"])
        let seen = try #require(try await py.run("events", "3").first)
        let workers = try #require(seen["workers"]?.objectValue)
        let me = try #require(workers.first { $0.key.hasPrefix("kale\(worker.pid)@") }?.value, "\(workers)")
        #expect(me["alive"] == .bool(true) && me["sw_ident"] == "kale", "\(me)")
        #expect((me["processed"]?.doubleValue ?? 0) >= 4, "\(me)")
        let tasks = try #require(seen["tasks"]?.objectValue)
        #expect(tasks.values.filter { $0["state"] == "SUCCESS" && $0["name"] == "kale.echo" }.count == 3, "\(tasks)")
        #expect(tasks.values.filter { $0["state"] == "FAILURE" && $0["name"] == "kale.fail" }.count == 1, "\(tasks)")
        #expect(try await f.auditCelery(py, ids: try await bridgedIDs(f)).isEmpty)
        #expect(await worker.stop() == 0)
    }

    /// `celery inspect` (and Flower's worker pages) get answers from a Kale worker.
    @Test func celeryInspectGetsAnswersFromAKaleWorker() async throws {
        let f = KaleFixture()
        let py = CeleryPython(f)
        let worker = try await py.kaleWorker(f, ["--celery-events"])
        let seen = try #require(try await py.run("control").first)
        let node = "kale\(worker.pid)@"
        func mine(_ key: String) -> JSONValue? { seen[key]?.objectValue?.first { $0.key.hasPrefix(node) }?.value }
        #expect(mine("ping") == .object(["ok": "pong"]), "\(seen)")
        #expect(mine("registered")?.arrayValue?.contains("kale.echo") == true, "\(seen)")
        #expect(mine("active_queues")?.arrayValue?.first?["name"] == "celery", "\(seen)")
        #expect(mine("stats")?["pool"]?["max-concurrency"] == 2, "\(seen)")
        #expect(mine("unknown")?["error"]?.stringValue?.contains("do not implement") == true, "\(seen)")
        #expect(await worker.stop() == 0)
    }
}
