import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// A chord of 10,000 header tasks on 2 worker daemons × 2 children while a driver kill -9's a
/// worker and restarts it, and restarts Redis (AOF, fsync always): the callback runs once,
/// with 10,000 results in order; every step ran, and every run beyond the first is a lost
/// lease the logs account for.
@Suite(.serialized, .timeLimit(.minutes(6))) struct WorkflowChaosTests {
    static let members = 10_000

    @Test func aChordSurvivesAKilledWorkerAndARedisRestartAndCallsBackOnce() async throws {
        let server = try RedisServer(options: ["--appendonly", "yes", "--appendfsync", "always"])
        defer { server.kill() }
        let f = KaleFixture(server: server)
        let counter = f.keys.prefix + ":runs"
        var workers = try (0..<2).map { _ in try ChaosTests.worker(server, f) }
        for w in workers { try await w.waitUntilReady(f) }
        var retired: [WorkerDaemon] = []

        let header = (0..<Self.members).map { _ in
            WorkflowNode.step(WorkflowStep(task: "kale.count", args: .object(["key": .string(counter), "ms": .number(2)])))
        }
        let wf = try await f.client.submit(.chord(group: header, then: .step(WorkflowStep(task: "kale.echo"))))
        var faults: [String] = []
        // Kill -9 a worker once a fifth of the header has run, restart it; restart Redis at
        // two fifths.
        _ = await waitUntil(timeout: .seconds(60)) { (try? await f.redis.send("HLEN", counter).int) ?? 0 >= Self.members / 5 }
        workers[0].signal(SIGKILL)
        _ = await workers[0].waitForExit(timeout: .seconds(5))
        retired.append(workers[0])
        workers[0] = try ChaosTests.worker(server, f)
        faults.append("kill -9 and restart of a worker")
        _ = await waitUntil(timeout: .seconds(60)) { (try? await f.redis.send("HLEN", counter).int) ?? 0 >= 2 * Self.members / 5 }
        try server.restart()
        faults.append("Redis restart (AOF)")

        var info: WorkflowInfo?
        #expect(await waitUntil(timeout: .seconds(240)) {
            info = try? await f.client.workflowInfo(wf.id)
            return info?.isFinished == true
        }, "the workflow ended")
        try await Task.sleep(for: .seconds(3))
        for w in workers { #expect(await w.stop() == 0) }

        let runs = try await f.runCounts(counter)
        let total = runs.values.reduce(0, +)
        let logs = (workers + retired).map(\.log)
        let attributed = logs.map { ChaosTests.lines($0, containing: "lease.lost=1") }.reduce(0, +)
            + logs.map(ChaosTests.reapedRunCount).reduce(0, +)
            // A header run whose own Redis connection broke in the restart failed after it
            // counted, and was retried.
            + logs.map { ChaosTests.lines($0, containing: "outcome=retrying") }.reduce(0, +)
        let callback = try await f.client.status(of: KaleClient.workflowStepID(wf.id, WorkflowPath([1])), queue: "default")
        let results = info?.result?.arrayValue ?? []
        print("""
        workflow chaos: chord of \(Self.members) on 2 workers x 2 children, faults: \(faults.joined(separator: ", ")); \
        state \(info?.state ?? "?"), \(results.count) results, header runs \(total) (\(total - Self.members) beyond the first, \
        \(attributed) accounted for by lost leases and retries in the logs); callback attempts \(callback?.attempt ?? 0)
        """)
        #expect(info?.state == "succeeded")
        #expect(results.count == Self.members, "the callback got every member's output")
        #expect(callback?.state == .succeeded && callback?.attempt == 1, "the callback ran once")
        #expect(runs.count == Self.members, "every header step ran")
        #expect(total - Self.members <= attributed, "every re-run is a lost lease in the logs")
        let outbox = try await f.redis.send("ZCARD", f.keys.workflowOutbox("default")).int
        #expect(outbox == 0, "every step's end was carried on")
        let ids = (0..<Self.members).map { KaleClient.workflowStepID(wf.id, WorkflowPath([0, $0])) }
            + [KaleClient.workflowStepID(wf.id, WorkflowPath([1]))]
        #expect(try await f.auditQueue("default", ids: ids).isEmpty)
    }
}
