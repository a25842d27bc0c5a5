import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import Synchronization
import Testing

/// Results are bounded: an oversize one fails its task with a clear reason, the daemon goes
/// on, and a big but allowed one never travels whole over pub/sub.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ResultSizeTests {
    /// Over the frame bound of a child's pipe (64 MiB) the run used to tear the pipe down
    /// (the child died of SIGPIPE and the task was retried as a crash); over the worker's
    /// limit it was written to Redis whole.
    @Test(arguments: [65 * 1024, 9 * 1024])
    func anOversizeResultFailsWithResultTooLargeAndTheWorkerGoesOn(kb: Int) async throws {
        let f = KaleFixture()
        let w = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, concurrency: 1)
        try await w.waitUntilReady(f)
        let big = try await f.client.enqueue(name: "kale.blob", args: .object(["kb": .number(Double(kb))]))
        let info = try await f.client.wait(for: big.id, timeout: .seconds(60))
        #expect(info.state == .dead)
        #expect(info.error?.type == "ResultTooLarge", "\(info.error?.type ?? "none"): \(info.error?.message ?? "")")
        #expect(info.attempt == 1, "not retried: the same input gives the same result")
        #expect(try await f.redis.send("HSTRLEN", f.keys.task("default", big.id), "result").int == 0, "nothing of it stored")
        let next = try await f.client.enqueue(name: "kale.noop", args: .null)
        #expect(try await f.client.wait(for: next.id, timeout: .seconds(20)).state == .succeeded)
        #expect(try await f.auditQueue("default", ids: [big.id, next.id]).isEmpty)
        #expect(await w.stop() == 0)
    }

    @Test func aBigResultWakesItsWaiterWithoutTravellingWholeOverPubSub() async throws {
        let f = KaleFixture()
        let w = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, concurrency: 1)
        try await w.waitUntilReady(f)
        let sizes = Mutex<[Int]>([])
        let ref = try await f.client.enqueue(name: "kale.blob", args: .object(["kb": .number(512)]), options: .init(delay: .seconds(1)))
        let listener = RedisSubscriber(configuration: f.server.configuration(poolSize: 1)) { _, payload in
            sizes.withLock { $0.append(payload.count) }
        }
        defer { listener.shutdown() }
        try await listener.subscribe(f.keys.doneChannel(ref.id))
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(30))
        #expect(info.state == .succeeded)
        #expect(try await f.redis.send("HSTRLEN", f.keys.task("default", ref.id), "result").int == 512 * 1024 + 2)
        #expect(await waitUntil { !sizes.withLock { $0 }.isEmpty })
        #expect(sizes.withLock { $0 }.allSatisfy { $0 <= 65536 }, "published sizes: \(sizes.withLock { $0 })")
        #expect(await w.stop() == 0)
    }
}

/// A child's progress reports reach Redis in the order it made them: the last one stays.
@Suite(.timeLimit(.minutes(2))) struct ChildProgressTests {
    @Test func theLastProgressAChildReportsIsTheOneRecorded() async throws {
        let f = KaleFixture()
        let w = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, concurrency: 1)
        try await w.waitUntilReady(f)
        let counter = f.keys.prefix + ":runs"
        for _ in 0..<3 {
            let ref = try await f.client.enqueue(name: "kale.count", args: .object(["key": .string(counter), "reports": .number(3000), "ms": .number(1500)]))
            // While the task holds after its last report, the record must settle on it and stay.
            #expect(try await waitUntil(timeout: .seconds(10)) { try await f.client.status(of: ref.id)?.progressMessage == "step 3000" })
            try await Task.sleep(for: .milliseconds(300))
            let info = try #require(try await f.client.status(of: ref.id))
            #expect(info.state == .started && info.progress == 1.0 && info.progressMessage == "step 3000",
                    "recorded \(info.progressMessage ?? "none") while \(info.state)")
            _ = try await f.client.wait(for: ref.id, timeout: .seconds(20))
        }
        #expect(await w.stop() == 0)
    }
}
