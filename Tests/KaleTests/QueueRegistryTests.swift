import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// The registry of queues after a FLUSHDB, on servers of their own: the shared one is used by
/// every other test at the same time.
@Suite(.timeLimit(.minutes(3))) struct QueueRegistryTests {
    /// A fixture whose client enqueued to queue `q` before its server was flushed.
    private func flushedAfterAnEnqueue(_ function: String = #function) async throws -> KaleFixture {
        let f = KaleFixture(function, server: try RedisServer())
        _ = try await f.client.enqueue(name: "t.before", args: .null, options: .init(queue: "q"))
        try await f.redis.send("FLUSHDB")
        return f
    }

    @Test func lookupsWithoutQueueFindTasksEnqueuedAfterAFlush() async throws {
        let f = try await flushedAfterAnEnqueue()
        defer { f.server.kill() }
        let looked = try await f.client.enqueue(name: "t.after", args: .null, options: .init(queue: "q"))
        let waited = try await f.client.enqueue(name: "t.after", args: .null, options: .init(queue: "q"))
        let cancelled = try await f.client.enqueue(name: "t.after", args: .null, options: .init(queue: "q"))

        #expect(try await f.client.status(of: looked.id)?.queue == "q", "status without a queue")
        #expect(try await f.client.cancel(id: cancelled.id) == "cancelled", "cancel without a queue")
        do {
            _ = try await f.client.wait(for: waited.id, timeout: .milliseconds(200))
            Issue.record("nothing runs the task, so the wait must time out")
        } catch let error as KaleError {
            #expect(error.code == .timeout, "the wait without a queue must find the task: \(error)")
        }
        // Having noticed the loss, the client announces the queue with its next enqueue.
        let last = try await f.client.enqueue(name: "t.after", args: .null, options: .init(queue: "q"))
        #expect(try await f.redis.send("SISMEMBER", f.keys.queues, "q").int == 1)
        #expect(try await f.auditQueue("q", ids: [looked.id, waited.id, cancelled.id, last.id]).isEmpty)
    }

    @Test func enqueuesRestoreAFlushedRegistryForOtherClients() async throws {
        let f = try await flushedAfterAnEnqueue()
        defer { f.server.kill() }
        // Another process (`kale result` without --queue) knows only the registry.
        let other = KaleClient(configuration: f.configuration)
        defer { other.close() }
        var ids: [String] = []
        let restored = try await waitUntil(timeout: .seconds(10)) {
            ids.append(try await f.client.enqueue(name: "t.after", args: .null, options: .init(queue: "q")).id)
            return try await other.status(of: ids[0]) != nil
        }
        #expect(restored, "the producer's enqueues never announced the queue again")
        #expect(try await f.auditQueue("q", ids: ids).isEmpty)
    }
}
