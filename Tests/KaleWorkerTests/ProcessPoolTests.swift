import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
@testable import KaleWorker
import Testing

@Suite(.serialized, .timeLimit(.minutes(3))) struct ProcessPoolTests {
    @Test func childProcessesRunTasksAndAreRecycled() async throws {
        let f = KaleFixture()
        let daemon = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--max-tasks-per-child", "3"])
        try await daemon.waitUntilReady(f)
        var pids: [Int] = []
        for i in 0..<12 {
            let echo = try await f.client.enqueue(name: "kale.echo", args: .object(["i": .number(Double(i))]))
            #expect(try await f.client.wait(for: echo.id, timeout: .seconds(20)).result == .object(["i": .number(Double(i))]))
            let noop = try await f.client.enqueue(name: "kale.noop", args: .null)
            pids.append(try #require(try await f.client.wait(for: noop.id, timeout: .seconds(20)).result.flatMap { if case .number(let n) = $0 { Int(n) } else { nil } }))
        }
        #expect(!pids.contains(Int(daemon.pid)), "tasks ran in children, not in the supervisor")
        // 24 tasks, at most 3 per child: at least 8 different children over time.
        #expect(Set(pids).count >= 4, "children were recycled: \(Set(pids))")
        #expect(await daemon.stop() == 0)
    }

    @Test func crashesAndLimitsAreContainedAndRecordedWithTheirCause() async throws {
        let f = KaleFixture()
        let daemon = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--max-memory-per-child", "150"])
        try await daemon.waitUntilReady(f)
        let once = EnqueueOptions(maxRetries: 0)
        let cases: [(name: String, args: JSONValue, options: EnqueueOptions, kind: TaskFailure.Kind, text: String)] = [
            ("kale.crash", .object(["how": .string("abort")]), once, .crashed, "SIGABRT"),
            ("kale.crash", .object(["how": .string("trap")]), once, .crashed, "signal"),
            ("kale.crash", .object(["how": .string("segv")]), once, .crashed, "SIGSEGV"),
            ("kale.crash", .object(["how": .string("exit")]), once, .exited, "code 3"),
            ("kale.alloc", .object(["mb": .number(400), "hold_ms": .number(3000)]), once, .memoryLimit, "ceiling"),
            ("kale.spin", .object(["ms": .number(20_000), "ignore_cancel": .bool(true)]),
             EnqueueOptions(maxRetries: 0, timeLimit: .seconds(1)), .timeLimit, "hard time limit"),
            ("kale.spin", .object(["ms": .number(20_000), "ignore_cancel": .bool(true)]),
             EnqueueOptions(maxRetries: 0, softTimeLimit: .milliseconds(300)), .softTimeLimit, "ignored the soft time limit"),
            ("kale.spin", .object(["ms": .number(20_000)]),
             EnqueueOptions(maxRetries: 0, softTimeLimit: .milliseconds(300)), .softTimeLimit, "soft time limit"),
        ]
        var refs: [KaleClient.TaskRef] = []
        for c in cases { refs.append(try await f.client.enqueue(name: c.name, args: c.args, options: c.options)) }
        // Healthy work keeps flowing while the bad tasks crash children.
        let healthy = try await f.client.enqueueBatch(name: "kale.echo", args: (0..<50).map { .number(Double($0)) })
        for (c, ref) in zip(cases, refs) {
            let info = try await f.client.wait(for: ref.id, timeout: .seconds(30))
            #expect(info.state == .dead, "\(c.name) \(c.args.jsonString) ended \(info.state)")
            #expect(info.error?.kind == c.kind, "\(c.name) \(c.args.jsonString): \(String(describing: info.error))")
            #expect(info.error?.message.contains(c.text) == true, "\(String(describing: info.error?.message)) mentions \(c.text)")
        }
        for h in healthy { #expect(try await f.client.wait(for: h.id, timeout: .seconds(30)).state == .succeeded) }
        #expect(daemon.process.isRunning, "the daemon survived every crash")
        #expect(try await f.auditQueue("default", ids: refs.map(\.id) + healthy.map(\.id)).isEmpty)
        #expect(await daemon.stop() == 0)
    }

    @Test func killedChildsTaskIsRetriedAndChildReplaced() async throws {
        let f = KaleFixture()
        // A 3 s lease beats every second, so the running child shows up in the registry soon.
        let daemon = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "3s"])
        try await daemon.waitUntilReady(f)
        let ref = try await f.client.enqueue(name: "kale.sleep", args: .object(["ms": .number(4000)]),
                                             options: .init(maxRetries: 2, backoff: .fixed(.milliseconds(100))))
        let workerID = try #require(try await daemon.workerID(f))
        var victim: Int32?
        _ = try await waitUntil(timeout: .seconds(10)) {
            victim = try await children(of: workerID, f).first { $0.value == ref.id }?.key
            return victim != nil
        }
        let pid = try #require(victim, "the running child shows in the heartbeat")
        kill(pid, SIGKILL)
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(20))
        #expect(info.state == .succeeded)
        #expect(info.attempt == 2)
        #expect(daemon.process.isRunning)
        let after = try await waitUntil(timeout: .seconds(10)) {
            let pids = try await children(of: workerID, f).keys
            return pids.count == 2 && !pids.contains(pid)
        }
        #expect(after, "the dead child was replaced")
        #expect(await daemon.stop() == 0)
    }

    @Test func cancellingARunningTaskStopsItWithoutRetry() async throws {
        let f = KaleFixture()
        let daemon = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix)
        try await daemon.waitUntilReady(f)
        let polite = try await f.client.enqueue(name: "kale.sleep", args: .object(["ms": .number(20_000)]))
        let stubborn = try await f.client.enqueue(name: "kale.spin", args: .object(["ms": .number(20_000), "ignore_cancel": .bool(true)]))
        #expect(try await waitUntil {
            let a = try await f.client.status(of: stubborn.id)?.state
            let b = try await f.client.status(of: polite.id)?.state
            return a == .started && b == .started
        })
        // Progress from the running sleep reaches Redis.
        #expect(try await waitUntil { (try await f.client.status(of: polite.id)?.progress ?? 0) > 0 })
        let start = ContinuousClock.now
        #expect(try await f.client.cancel(id: polite.id) == "requested")
        #expect(try await f.client.cancel(id: stubborn.id) == "requested")
        let a = try await f.client.wait(for: polite.id, timeout: .seconds(15))
        #expect(a.state == .cancelled)
        #expect(ContinuousClock.now - start < .seconds(2), "a cooperative task stops at once")
        let b = try await f.client.wait(for: stubborn.id, timeout: .seconds(15))
        #expect(b.state == .cancelled, "killed after the stop grace, still cancelled and not retried")
        #expect(b.attempt == 1)
        #expect(await daemon.stop() == 0)
    }
}

@Suite struct StopRequestTests {
    @Test(arguments: [(UInt32(0), TaskContext.StopReason.cancelled), (1, .softTimeLimit), (.max, .shutdown), (70_000, .cancelled)])
    func stopRequestsRoundTripThroughTheirFrame(run: UInt32, reason: TaskContext.StopReason) {
        let request = StopRequest(run: run, reason: reason)
        #expect(StopRequest(payload: request.payload) == request)
    }

    @Test func malformedStopPayloadsAreIgnored() {
        #expect(StopRequest(payload: []) == nil)
        #expect(StopRequest(payload: [0, 0, 1]) == nil)
        #expect(StopRequest(payload: [0, 0, 0, 1] + Array("nonsense".utf8)) == nil)
    }
}
