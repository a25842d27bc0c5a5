import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct BatchFailureTests {
    /// A server of its own whose memory runs out part way through a batch: with noeviction,
    /// Redis answers -OOM to the chunks that come after the limit is reached.
    @Test func refusedLaterChunkThrowsPartialBatchNamingExactlyTheCreatedTasks() async throws {
        let server = try RedisServer()
        defer { server.kill() }
        let f = KaleFixture(server: server)
        let pad = String(repeating: "x", count: 1000)
        // One enqueue first, so the connections and the registry entry exist before memory is measured.
        _ = try await f.client.enqueue(name: "t.warmup", args: .null, options: .init(queue: "bulk"))
        let info = try await f.redis.send("INFO", "memory").string ?? ""
        let used = try #require(info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("used_memory:") }
            .flatMap { Int($0.dropFirst("used_memory:".count)) })
        // About four chunks of 256 tasks of 1 kB fit; the batch has ten.
        try await f.redis.send("CONFIG", "SET", "maxmemory-policy", "noeviction")
        try await f.redis.send("CONFIG", "SET", "maxmemory", used + 2_500_000)
        let args = (0..<2560).map { JSONValue.object(["n": .number(Double($0)), "pad": .string(pad)]) }
        var thrown: KaleError?
        do {
            _ = try await f.client.enqueueBatch(name: "t.bulk", args: args, options: .init(queue: "bulk"))
        } catch let error as KaleError {
            thrown = error
        }
        try await f.redis.send("CONFIG", "SET", "maxmemory", 0)
        let error = try #require(thrown, "a batch that Redis partly refused must throw a KaleError")
        #expect(error.code == .partialBatch, "\(error)")
        #expect(error.detail.contains("OOM"), "\(error.detail)")
        let batch = try #require(error.batch)
        #expect(batch.count == args.count)
        let created = error.created
        #expect(!created.isEmpty && created.count < args.count, "\(created.count) of \(args.count) created")
        #expect(created.count == batch.compactMap { $0 }.count)

        let prefix = f.keys.taskPrefix("bulk")
        let records = Set((try await f.redis.send("KEYS", prefix + "*").strings ?? []).map { String($0.dropFirst(prefix.count)) })
        let pending = try await f.redis.send("LRANGE", f.keys.pending("bulk", .normal), 0, -1).strings ?? []
        let warmup = records.subtracting(created.map(\.id))
        #expect(warmup.count == 1, "the records in Redis are the created tasks plus the warm-up one")
        #expect(Set(created.map(\.id)).isSubset(of: records))
        #expect(Set(pending) == records)
        #expect(try await f.auditQueue("bulk", ids: Array(records)).isEmpty)
    }
}
