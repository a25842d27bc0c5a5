import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// The limits a pool enforces on a child reach the child's own subprocesses, and the memory
/// ceiling holds between samples.
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

    /// kill -9 of the supervisor: its child leaves when the control pipe closes, and takes
    /// the subprocesses its task started with it (nothing else would ever kill them).
    @Test func killedSupervisorTakesTheChildsSubprocessesDown() async throws {
        let f = KaleFixture()
        let daemon = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"], concurrency: 1)
        try await daemon.waitUntilReady(f)
        let ref = try await f.client.enqueue(name: "kale.spawn-sleeper", args: .object(["seconds": .number(60), "hold_ms": .number(30_000)]))
        let sleeper = try #require(await sleeper(of: daemon))
        defer { kill(sleeper, SIGKILL) }
        daemon.signal(SIGKILL)
        _ = await daemon.waitForExit(timeout: .seconds(5))
        #expect(await waitUntil(timeout: .seconds(5)) { ProcessTable.isGone(sleeper) }, "the task's subprocess outlived its supervisor")
        _ = try await f.client.cancel(id: ref.id)
        let b = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--lease", "2s"], concurrency: 1)
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(20))
        #expect(info.state == .cancelled, "ended \(info.state)")
        #expect(try await f.auditQueue("default", ids: [ref.id]).isEmpty)
        #expect(await b.stop() == 0)
    }

    @Test func allocationBeyondTheCeilingFailsAtOnceAndKeepsTheChild() async throws {
        let f = KaleFixture()
        let daemon = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--max-memory-per-child", "200"], concurrency: 1)
        try await daemon.waitUntilReady(f)
        let before = try await f.client.enqueue(name: "kale.noop", args: .null)
        let childBefore = pid(try await f.client.wait(for: before.id, timeout: .seconds(20)).result)
        let ref = try await f.client.enqueue(name: "kale.alloc", args: .object(["mb": .number(600)]), options: .init(maxRetries: 0))
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(20))
        #expect(info.state == .dead)
        #expect(info.error?.kind == .memoryLimit, "\(String(describing: info.error))")
        #expect(info.error?.type == "MemoryLimitExceeded")
        let after = try await f.client.enqueue(name: "kale.noop", args: .null)
        let childAfter = pid(try await f.client.wait(for: after.id, timeout: .seconds(20)).result)
        #expect(childAfter == childBefore, "a refused allocation fails the task, not the child")
        #expect(try await f.auditQueue("default", ids: [before.id, ref.id, after.id]).isEmpty)
        #expect(await daemon.stop() == 0)
    }

    @Test func swiftAllocationBeyondTheLimitIsAMemoryLimitNotACrash() async throws {
        let f = KaleFixture()
        let daemon = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--max-memory-per-child", "200"], concurrency: 1)
        try await daemon.waitUntilReady(f)
        // Committed but never written: resident memory stays low, so no sample can see it;
        // only a limit on the child can. Swift's allocator traps when the allocation fails.
        let ref = try await f.client.enqueue(name: "kale.alloc", args: .object(["mb": .number(600), "chunk_mb": .number(16), "touch": .bool(false)]),
                                             options: .init(maxRetries: 0))
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(20))
        #expect(info.state == .dead)
        #expect(info.error?.kind == .memoryLimit, "\(String(describing: info.error))")
        #expect(info.error?.type == "MemoryLimitExceeded")
        #expect(info.error?.message.contains("an allocation failed") == true, "the cause is the allocation: \(String(describing: info.error))")
        let next = try await f.client.enqueue(name: "kale.noop", args: .null)
        #expect(try await f.client.wait(for: next.id, timeout: .seconds(20)).state == .succeeded, "the child was replaced")
        #expect(try await f.auditQueue("default", ids: [ref.id, next.id]).isEmpty)
        #expect(await daemon.stop() == 0)
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
