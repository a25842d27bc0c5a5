import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import KaleWorker
import Testing

@Suite(.timeLimit(.minutes(3))) struct ClientTests {
    @Test func typedEnqueueAwaitsTypedResult() async throws {
        let f = KaleFixture()
        let registry = TaskRegistry()
        registry.register(CountingTask(redis: f.redis, counter: f.keys.prefix + ":runs"))
        let worker = f.startWorker(registry: registry)
        let handle = try await f.client.enqueue(CountingTask.self, .init(n: 21))
        #expect(handle.created)
        #expect(try await handle.result(timeout: .seconds(10)) == 42)
        let info = try #require(try await handle.status())
        #expect(info.state == .succeeded)
        #expect(info.attempt == 1)
        #expect(info.worker?.hasPrefix("test-") == true)
        #expect(info.startedAt != nil && info.finishedAt != nil && info.enqueuedAt != nil)
        let ttl = try await f.redis.send("PTTL", f.keys.task("default", handle.id)).int ?? -1
        #expect(ttl > 86_000_000 && ttl <= 86_400_000, "results expire after the default day")
        try await worker.stop()
    }

    @Test func batchEnqueueSendsThousandsInOneCall() async throws {
        let f = KaleFixture()
        let handles = try await f.client.enqueueBatch(CountingTask.self, (0..<5000).map { .init(n: $0) }, options: .init(queue: "bulk"))
        #expect(handles.count == 5000)
        #expect(Set(handles.map(\.id)).count == 5000)
        #expect(try await f.redis.send("LLEN", f.keys.pending("bulk", .normal)).int == 5000)
        #expect(try await f.auditQueue("bulk", ids: handles.map(\.id)).isEmpty)
    }

    /// Tasks with random ids (single or batch) are written as plain commands in a
    /// transaction, those with a caller-chosen id by the enqueue script: the records must be
    /// the same, or the worker and `kale inspect` would read them differently.
    @Test func transactionRecordsMatchTheScriptsAndKeepOrder() async throws {
        let f = KaleFixture()
        let options = EnqueueOptions(queue: "b", priority: .high, expiresIn: .seconds(600), maxRetries: 7, resultTTL: .seconds(90))
        var chosen = options
        chosen.id = "chosen-\(UUID().uuidString)"
        let scripted = try await f.client.enqueue(name: "x.y", args: .number(-2), options: chosen)
        let single = try await f.client.enqueue(name: "x.y", args: .number(-1), options: options)
        let refs = try await f.client.enqueueBatch(name: "x.y", args: (0..<600).map { .number(Double($0)) }, options: options)
        #expect(refs.count == 600 && refs.allSatisfy(\.created))
        func record(_ id: String) async throws -> [String: String] {
            var fields = try await f.redis.send("HGETALL", f.keys.task("b", id)).hash ?? [:]
            #expect(fields.removeValue(forKey: "msg") != nil)
            #expect(fields.removeValue(forKey: "enqueued_at") != nil)
            fields["expires_at"] = fields["expires_at"].map { String($0.prefix(6)) }
            return fields
        }
        let reference = try await record(scripted.id)
        #expect(reference["prio"] == "0" && reference["max_retries"] == "7" && reference["ttl"] == "90000")
        for ref in [single, refs[0], refs[255], refs[256], refs[599]] { #expect(try await record(ref.id) == reference) }
        let pending = try await f.redis.send("LRANGE", f.keys.pending("b", .high), 0, -1).strings ?? []
        let all = [scripted.id, single.id] + refs.map(\.id)
        #expect(Array(pending.reversed()) == all, "first enqueued is first fetched")
        #expect(try await f.auditQueue("b", ids: all).isEmpty)
    }

    @Test func batchHonoursDelayUniqueKeyAndFixedID() async throws {
        let f = KaleFixture()
        let delayed = try await f.client.enqueueBatch(name: "x.y", args: [.null, .null, .null], options: .init(delay: .seconds(30)))
        let scheduled = try await f.redis.send("ZRANGE", f.keys.scheduled("default"), 0, -1).strings ?? []
        #expect(Set(scheduled) == Set(delayed.map(\.id)))
        #expect(try await f.client.status(of: delayed[1].id)?.state == .scheduled)
        #expect(try await f.redis.send("LLEN", f.keys.pending("default", .normal)).int == 0)

        let unique = try await f.client.enqueueBatch(name: "x.y", args: [.null, .null, .null], options: .init(uniqueKey: "u"))
        #expect(unique.map(\.created) == [true, false, false])
        #expect(Set(unique.map(\.id)).count == 1)

        _ = try await f.client.enqueueBatch(name: "x.y", args: [.null], options: .init(id: "fixed-1"))
        await #expect(throws: KaleError.self) {
            try await f.client.enqueueBatch(name: "x.y", args: [.null], options: .init(id: "fixed-1"))
        }
    }

    @Test func untypedEnqueueByNameRunsRegisteredTask() async throws {
        let f = KaleFixture()
        let registry = TaskRegistry()
        DiagnosticTasks.register(in: registry)
        let worker = f.startWorker(registry: registry)
        let ref = try await f.client.enqueue(name: "kale.echo", args: .object(["x": .number(1)]))
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(10))
        #expect(info.state == .succeeded)
        #expect(info.result == .object(["x": .number(1)]))
        try await worker.stop()
    }

    @Test func uniqueKeyReturnsExistingTaskAndCreatesNothing() async throws {
        let f = KaleFixture()
        let options = EnqueueOptions(uniqueKey: "report-42", uniqueTTL: .seconds(60))
        let first = try await f.client.enqueue(name: "x.y", args: .null, options: options)
        let second = try await f.client.enqueue(name: "x.y", args: .null, options: options)
        #expect(first.created && !second.created)
        #expect(second.id == first.id)
        #expect(try await f.redis.send("LLEN", f.keys.pending("default", .normal)).int == 1)
        let other = try await f.client.enqueue(name: "x.y", args: .null, options: .init(uniqueKey: "report-43"))
        #expect(other.created && other.id != first.id)
    }

    @Test func oversizeMessageIsRefusedAtEnqueue() async throws {
        let f = KaleFixture { $0.maxMessageSize = 1024 }
        await #expect(throws: KaleError.self) {
            try await f.client.enqueue(name: "big", args: .string(String(repeating: "x", count: 2000)))
        }
        do {
            _ = try await f.client.enqueue(name: "big", args: .string(String(repeating: "x", count: 2000)))
        } catch let error as KaleError {
            #expect(error.code == .payloadTooLarge)
            #expect(error.detail.contains("1024"))
        }
        #expect(try await f.redis.send("EXISTS", f.keys.pending("default", .normal)).int == 0)
    }

    @Test func invalidOptionsAreRefused() async throws {
        let f = KaleFixture()
        for options in [EnqueueOptions(queue: "bad{tag}"), EnqueueOptions(queue: ""), EnqueueOptions(maxRetries: -1)] {
            await #expect(throws: KaleError.self) { try await f.client.enqueue(name: "t", args: .null, options: options) }
        }
        let id = "fixed-\(UUID().uuidString)"
        _ = try await f.client.enqueue(name: "t", args: .null, options: .init(id: id))
        await #expect(throws: KaleError.self) { try await f.client.enqueue(name: "t", args: .null, options: .init(id: id)) }
    }

    @Test func statusAndWaitForUnknownIdSayNotFound() async throws {
        let f = KaleFixture()
        _ = try await f.client.enqueue(name: "t", args: .null)
        #expect(try await f.client.status(of: "no-such-id") == nil)
        do {
            _ = try await f.client.wait(for: "no-such-id", timeout: .seconds(1))
            Issue.record("wait should throw")
        } catch let error as KaleError {
            #expect(error.code == .notFound)
        }
    }

    @Test func waitTimesOutWhenNothingRuns() async throws {
        let f = KaleFixture()
        let ref = try await f.client.enqueue(name: "t", args: .null)
        let start = ContinuousClock.now
        do {
            _ = try await f.client.wait(for: ref.id, timeout: .milliseconds(300))
            Issue.record("wait should time out")
        } catch let error as KaleError {
            #expect(error.code == .timeout)
        }
        #expect(ContinuousClock.now - start < .seconds(2))
    }

    @Test func cancelEndsWaitingTaskWhichNeverRuns() async throws {
        let f = KaleFixture()
        let registry = TaskRegistry()
        let counter = f.keys.prefix + ":runs"
        registry.register(CountingTask(redis: f.redis, counter: counter))
        let delayed = try await f.client.enqueue(CountingTask.self, .init(n: 1), options: .init(delay: .milliseconds(300)))
        let pending = try await f.client.enqueue(CountingTask.self, .init(n: 2))
        #expect(try await delayed.cancel() == "cancelled")
        #expect(try await pending.cancel() == "cancelled")
        #expect(try await pending.cancel() == "cancelled", "cancelling twice reports the final state")
        let worker = f.startWorker(registry: registry)
        let marker = try await f.client.enqueue(CountingTask.self, .init(n: 3))
        _ = try await marker.result(timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(500))
        try await worker.stop()
        let counts = try await f.runCounts(counter)
        #expect(counts[delayed.id] == nil && counts[pending.id] == nil)
        #expect(try await delayed.status()?.state == .cancelled)
        do {
            _ = try await delayed.result(timeout: .seconds(1))
            Issue.record("a cancelled task has no result")
        } catch let error as KaleError {
            #expect(error.code == .taskFailed && error.state == .cancelled)
        }
        #expect(try await f.auditQueue("default", ids: [delayed.id, pending.id, marker.id]).isEmpty)
    }
}
