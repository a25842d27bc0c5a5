import Foundation
import KaleRedis
import KaleTestSupport
import KaleWorker
import Synchronization
import Testing

@testable import Kale

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

    /// The deadline starts when wait() is called: a SUBSCRIBE that Redis does not answer
    /// cannot hold the caller past it.
    @Test func waitReturnsByItsDeadlineWhenSubscribeHangs() async throws {
        let server = try RedisServer()
        defer { server.kill() }
        let f = KaleFixture(server: server)
        let ref = try await f.client.enqueue(name: "kale.noop", args: .null)
        // Open the pub/sub connection first, so what hangs is the SUBSCRIBE itself.
        _ = try? await f.client.wait(for: ref.id, queue: ref.queue, timeout: .milliseconds(1))
        let pubsub = "name=\(f.configuration.redis.clientName!)-results "
        #expect(try await waitUntil { try await f.redis.send("CLIENT", "LIST").string?.contains(pubsub) == true })
        try await expectTimeoutByTheDeadline(while: server) { try await f.client.wait(for: ref.id, queue: ref.queue, timeout: $0) }
    }

    /// Finding the queue of a task reads Redis too; the same deadline bounds that read.
    @Test func waitReturnsByItsDeadlineWhenTheQueueLookupHangs() async throws {
        let server = try RedisServer()
        defer { server.kill() }
        let f = KaleFixture(server: server)
        let ref = try await f.client.enqueue(name: "kale.noop", args: .null)
        try await expectTimeoutByTheDeadline(while: server) { try await f.client.wait(for: ref.id, timeout: $0) }
    }

    /// A Redis 7 ACL user without channel rights gets a one-line error naming the rule to add,
    /// at once, instead of a wait that never hears back.
    @Test func waitWithoutChannelRightsFailsNamingTheACL() async throws {
        let server = try RedisServer()
        defer { server.kill() }
        let admin = RedisClient(configuration: server.configuration(poolSize: 1))
        defer { admin.close() }
        try await admin.send("ACL", "SETUSER", "producer", "on", ">secret", "resetchannels", "~*", "+@all")
        let f = KaleFixture(server: server) {
            $0.redis.url.user = "producer"
            $0.redis.url.password = "secret"
        }
        let ref = try await f.client.enqueue(name: "kale.noop", args: .null)
        let start = ContinuousClock.now
        let ended = await outcome(within: .seconds(5)) { try await f.client.wait(for: ref.id, queue: ref.queue, timeout: .seconds(3)) }
        #expect(ContinuousClock.now - start < .seconds(1), "the refusal took \(ContinuousClock.now - start)")
        guard case .failure(let error as RedisError)? = ended else {
            Issue.record("expected a RedisError, got \(String(describing: ended))")
            return
        }
        #expect(error.code == .permission)
        #expect(error.detail.contains("`&\(f.keys.prefix):*`"), "\(error.detail)")
        #expect(error.detail.contains("allchannels"), "\(error.detail)")
        #expect(error.detail.contains("'producer'"), "\(error.detail)")
        #expect(!"\(error)".contains("\n"))
    }

    /// Cancelling the task that waits ends the wait at once, not at its deadline: once woken
    /// by the cancellation, the wait must not go back to sleep for the rest of its timeout.
    @Test func cancelledWaitEndsAtOnce() async throws {
        let f = KaleFixture()
        let ref = try await f.client.enqueue(name: "kale.noop", args: .null)
        let wait = Task { try await f.client.wait(for: ref.id, queue: ref.queue, timeout: .seconds(30)) }
        #expect(try await waitUntil { try await f.redis.send("PUBSUB", "NUMSUB", f.keys.doneChannel(ref.id)).array?.last?.int == 1 })
        let start = ContinuousClock.now
        wait.cancel()
        let ended = await outcome(within: .seconds(3)) { try await wait.value }
        #expect(ended != nil, "the cancelled wait was still running after 3 s")
        if case .success(let info)? = ended { Issue.record("a cancelled wait returned \(info)") }
        #expect(ContinuousClock.now - start < .milliseconds(500))
    }

    /// The deadline's timer can fire before the wait has stored the continuation it sleeps
    /// on; that wake-up must not be lost. Many waits in a row with deadlines of a few
    /// microseconds land in that window, on a pool thread left idle to run the timer.
    @Test func timerFiringBeforeTheWaitSleepsIsNotLost() async throws {
        let waiter = ResultWaiter(configuration: RedisServer.shared.configuration())
        defer { waiter.shutdown() }
        let redis = RedisClient(configuration: RedisServer.shared.configuration(poolSize: 1))
        defer { redis.close() }
        let channel = testNamespace()
        func receivers() async throws -> Int? { try await redis.send("PUBSUB", "NUMSUB", channel).array?.last?.int }
        // A long wait holds the channel, so each short one subscribes at once and goes
        // straight to sleep: its deadline then passes in the middle of that.
        let holder = Task { try await waiter.wait(channel: channel, until: .now + .seconds(60)) { _, _ in Int?.none } }
        #expect(try await waitUntil { try await receivers() == 1 })
        let count = 50_000
        let done = Counter()
        // Unstructured: if a wait hangs, the test reports how far it got instead of hanging.
        Task {
            for i in 0..<count {
                _ = try await waiter.wait(channel: channel, until: .now + .microseconds(i % 10)) { _, _ in Int?.none }
                done.increment()
            }
        }
        let finished = await waitUntil(timeout: .seconds(30)) { done.value == count }
        #expect(finished, "wait \(done.value + 1) of \(count) missed its deadline and hangs")
        // Every wait let go of the channel: none is left asleep holding it.
        holder.cancel()
        #expect(try await waitUntil { try await receivers() == 0 })
    }

    /// Runs `wait` with a 300 ms timeout while `server` is frozen, and expects it to time out
    /// by that deadline.
    private func expectTimeoutByTheDeadline(
        while server: RedisServer, _ wait: @escaping @Sendable (Duration) async throws -> TaskInfo
    ) async throws {
        try await server.frozen {
            let start = ContinuousClock.now
            let ended = await outcome(within: .seconds(3)) { try await wait(.milliseconds(300)) }
            let elapsed = ContinuousClock.now - start
            #expect(ended != nil, "the wait was still running \(elapsed) after its 300 ms deadline")
            if case .failure(let error as KaleError)? = ended {
                #expect(error.code == .timeout)
            } else if let ended {
                Issue.record("expected a timeout, got \(ended)")
            }
            #expect(elapsed < .milliseconds(600), "a 300 ms wait took \(elapsed)")
        }
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

private final class Counter: Sendable {
    private let count = Atomic(0)
    func increment() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
