import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// The limits a pool enforces on a child reach the child's own subprocesses.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ChildLimitTests {
    @Test func hardLimitKillsTheChildsSubprocesses() async throws {
        let f = KaleFixture()
        let daemon = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, concurrency: 1)
        try await daemon.waitUntilReady(f)
        let ref = try await f.client.enqueue(name: "kale.spawn-sleeper", args: .object(["seconds": .number(60), "hold_ms": .number(30_000)]),
                                             options: .init(maxRetries: 0, timeLimit: .seconds(2)))
        let sleeper = try #require(await sleeper(of: daemon))
        defer { kill(sleeper, SIGKILL) }
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(20))
        #expect(info.error?.kind == .timeLimit, "\(String(describing: info.error))")
        #expect(await waitUntil(timeout: .seconds(5)) { ProcessTable.isGone(sleeper) }, "the child's subprocess died with it")
        #expect(try await f.auditQueue("default", ids: [ref.id]).isEmpty)
        #expect(await daemon.stop() == 0)
    }

    @Test func coldShutdownKillsTheChildsSubprocesses() async throws {
        let f = KaleFixture()
        let daemon = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, concurrency: 1)
        try await daemon.waitUntilReady(f)
        let ref = try await f.client.enqueue(name: "kale.spawn-sleeper", args: .object(["seconds": .number(60), "hold_ms": .number(30_000)]))
        let sleeper = try #require(await sleeper(of: daemon))
        defer { kill(sleeper, SIGKILL) }
        daemon.signal(SIGINT)
        #expect(await daemon.waitForExit(timeout: .seconds(20)) == 0)
        #expect(await waitUntil(timeout: .seconds(5)) { ProcessTable.isGone(sleeper) }, "the child's subprocess died with it")
        #expect(try await f.client.status(of: ref.id)?.state == .pending, "the killed task went back to its queue")
        #expect(try await f.auditQueue("default", ids: [ref.id]).isEmpty)
    }
}

/// The `/bin/sleep` started by `kale.spawn-sleeper` in one of the daemon's children.
private func sleeper(of daemon: WorkerDaemon) async -> pid_t? {
    var found: pid_t?
    _ = await waitUntil(timeout: .seconds(20)) {
        found = ProcessTable.children(of: daemon.pid).lazy.flatMap { ProcessTable.children(of: $0) }
            .first { ProcessTable.commandLine($0)?.first == "sleep" }
        return found != nil
    }
    return found
}
