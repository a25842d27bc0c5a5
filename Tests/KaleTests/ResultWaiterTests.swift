import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import KaleWorker
import Synchronization
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

    /// A finished task's done message carries its whole record, so an awaiting producer gets
    /// the result without reading it; with nobody subscribed nothing is published at all.
    @Test func doneMessageCarriesTheRecordWhileSubscribed() async throws {
        // A server of its own: the test counts every PUBLISH the server saw.
        let server = try RedisServer()
        defer { server.stop() }
        let f = KaleFixture(server: server)
        let messages = Mutex<[[UInt8]]>([])
        let listener = RedisSubscriber(configuration: f.configuration.redis) { _, payload in messages.withLock { $0.append(payload) } }
        defer { listener.shutdown() }
        let registry = TaskRegistry()
        DiagnosticTasks.register(in: registry)
        let worker = f.startWorker(registry: registry)
        let unwatched = try await f.client.enqueue(name: "kale.echo", args: .string("nobody waits"))
        _ = try await waitUntil { try await f.client.status(of: unwatched.id)?.state == .succeeded }
        let before = try await pubsubMessages(f)

        let ref = try await f.client.enqueue(name: "kale.echo", args: .object(["x": .string("é/\"\n")]), options: .init(delay: .milliseconds(300)))
        try await listener.subscribe(f.keys.doneChannel(ref.id))
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(10))
        #expect(info.result == .object(["x": .string("é/\"\n")]))
        try await worker.stop()

        await waitUntil { messages.withLock { !$0.isEmpty } }
        let payload = try #require(messages.withLock { $0.first })
        let flat = try JSONDecoder().decode([String].self, from: Data(payload))
        let fields = Dictionary(uniqueKeysWithValues: stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) })
        #expect(fields["state"] == "succeeded")
        #expect(try JSONValue(parsing: Data(try #require(fields["result"]).utf8)) == info.result)
        #expect(fields["finished_at"].flatMap { Int64($0) } != nil)
        #expect(try await pubsubMessages(f) - before == 1, "only the watched task published")
    }

    private func pubsubMessages(_ f: KaleFixture) async throws -> Int {
        let stats = try await f.redis.send("INFO", "commandstats").string ?? ""
        guard let line = stats.split(separator: "\r\n").first(where: { $0.hasPrefix("cmdstat_publish:") }),
              let calls = line.split(separator: ",").first?.split(separator: "=").last else { return 0 }
        return Int(calls) ?? 0
    }

    private func connections(named name: String, _ f: KaleFixture) async throws -> Int {
        let list = try await f.redis.send("CLIENT", "LIST").string ?? ""
        return list.split(separator: "\n").filter { $0.contains("name=\(name) ") || $0.contains("name=\(name)-results ") }.count
    }
}

