import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import KaleWorker
import Testing

@Suite(.timeLimit(.minutes(3))) struct ResultWaiterTests {
    @Test func twoThousandConcurrentAwaitsShareABoundedNumberOfConnections() async throws {
        let f = KaleFixture(poolSize: 4)
        let counter = f.keys.prefix + ":runs"
        let handles = try await f.client.enqueueBatch(CountingTask.self, (0..<2000).map { .init(n: $0) })
        let name = f.configuration.redis.clientName!
        let (results, peak) = try await withThrowingTaskGroup(of: Int.self) { group -> ([Int], Int) in
            for h in handles { group.addTask { try await h.result(timeout: .seconds(60)) } }
            // Start the worker only once every await is waiting, so all 2000 are concurrent.
            try await Task.sleep(for: .milliseconds(500))
            let peak = try await connections(named: name, f)
            let registry = TaskRegistry()
            registry.register(CountingTask(redis: f.redis, counter: counter))
            let worker = f.startWorker(registry: registry, concurrency: 4)
            var out: [Int] = []
            for try await r in group { out.append(r) }
            try await worker.stop()
            return (out, peak)
        }
        #expect(results.sorted() == (0..<2000).map { $0 * 2 })
        // The client's pool (4) plus one pub/sub connection for all the waits.
        #expect(peak <= 5, "connections used by 2000 waits: \(peak)")
        #expect(peak >= 2)
    }

    @Test func waitReturnsAtOnceForAFinishedTask() async throws {
        let f = KaleFixture()
        let registry = TaskRegistry()
        DiagnosticTasks.register(in: registry)
        let worker = f.startWorker(registry: registry)
        let ref = try await f.client.enqueue(name: "kale.noop", args: .null)
        _ = try await f.client.wait(for: ref.id, timeout: .seconds(5))
        try await worker.stop()
        let start = ContinuousClock.now
        #expect(try await f.client.wait(for: ref.id, timeout: .seconds(5)).state == .succeeded)
        #expect(ContinuousClock.now - start < .milliseconds(200))
    }

    private func connections(named name: String, _ f: KaleFixture) async throws -> Int {
        let list = try await f.redis.send("CLIENT", "LIST").string ?? ""
        return list.split(separator: "\n").filter { $0.contains("name=\(name) ") || $0.contains("name=\(name)-results ") }.count
    }
}

