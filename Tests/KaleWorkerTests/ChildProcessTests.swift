import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
@testable import KaleWorker
import Testing

/// The pipes between the supervisor and its children: a child's subprocesses, a child that
/// dies just as a task is sent, and the process around the pool.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ChildProcessTests {
    @Test func grandchildHoldingThePipeDoesNotHangTheRun() async throws {
        let f = KaleFixture()
        let daemon = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, concurrency: 1)
        try await daemon.waitUntilReady(f)
        let spawn = try await f.client.enqueue(name: "kale.spawn-sleeper", args: .object(["seconds": .number(30)]))
        let sleeper = try #require(pid(try await f.client.wait(for: spawn.id, timeout: .seconds(20)).result))
        defer { kill(sleeper, SIGKILL) }
        // It inherited stdin, stdout and stderr only, and stdin is not the task pipe.
        let inherited = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(sleeper)/fd")
        // What each descriptor is, so a leak names its source (a socket, a /proc file …).
        let targets = inherited.sorted().map { "\($0) -> \((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(sleeper)/fd/\($0)")) ?? "?")" }
        #expect(Set(inherited) == ["0", "1", "2"], "the sleeper holds \(targets)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(sleeper)/fd/0") == "/dev/null")
        // The child that started the sleeper now exits while the sleeper lives on with whatever
        // descriptors it inherited: the supervisor must still see the child's end.
        let exit = try await f.client.enqueue(name: "kale.crash", args: .object(["how": .string("exit")]), options: .init(maxRetries: 0))
        let ended = try await f.client.wait(for: exit.id, timeout: .seconds(10))
        #expect(ended.state == .dead)
        #expect(ended.error?.kind == .exited, "\(String(describing: ended.error))")
        #expect(!ProcessTable.isGone(sleeper), "the sleeper was not killed: only the run ended")
        let next = try await f.client.enqueue(name: "kale.noop", args: .null)
        #expect(try await f.client.wait(for: next.id, timeout: .seconds(10)).state == .succeeded)
        #expect(try await f.auditQueue("default", ids: [spawn.id, exit.id, next.id]).isEmpty)
        #expect(await daemon.stop() == 0)
    }

    @Test func taskSentToAJustDeadChildIsRequeuedUncounted() async throws {
        let f = KaleFixture()
        let daemon = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, concurrency: 1)
        try await daemon.waitUntilReady(f)
        let ids = try await sendRightAfterTheChildDies(f, rounds: 3)
        #expect(daemon.process.isRunning)
        #expect(try await f.auditQueue("default", ids: ids).isEmpty)
        #expect(await daemon.stop() == 0)
    }

    /// An application embedding the worker that never touched SIGPIPE: its default action
    /// kills the process on a write to a closed pipe. The write to a dead pipe itself is made
    /// for certain by `runFrameTheChildCannotReadComesBackNotStarted`, under the same setting.
    @Test func embeddingProcessSurvivesAWriteToADeadChild() async throws {
        let restore = defaultSIGPIPE()
        defer { restore() }

        let f = KaleFixture()
        let registry = TaskRegistry()
        DiagnosticTasks.register(in: registry)
        let configuration = WorkerConfiguration(
            concurrency: 1, pool: .process, name: "embedded", childExecutable: WorkerDaemon.executable,
            childArguments: ["worker", "--diagnostics"])
        let worker = Worker(configuration: configuration, kale: f.configuration, registry: registry)
        let running = Task { try await worker.run() }
        let ids = try await sendRightAfterTheChildDies(f, rounds: 3)
        worker.shutdown(.warm)
        try await running.value
        #expect(try await f.auditQueue("default", ids: ids).isEmpty)
    }

    @Test func runFrameTheChildCannotReadComesBackNotStarted() async throws {
        // A child that closed its end of the task pipe yet lives on: the write of the run
        // frame fails (EPIPE), so the task never reached it.
        // With SIGPIPE's default action, as in an application that never touched it: the
        // write must fail with EPIPE, not kill this process.
        let restore = defaultSIGPIPE()
        defer { restore() }
        let child = try ChildProcess.spawn(executable: "/bin/sh", arguments: ["-c", "exec 0<&-; exec sleep 3"])
        defer { child.kill(cause: TaskFailure(kind: .crashed, type: "Test", message: "done")) }
        #expect(await waitUntil { !FileManager.default.fileExists(atPath: "/proc/\(child.pid)/fd/0") })
        let frame = Frame(.run, Frame.int64(1) + Frame.int64(-1) + Frame.int64(0) + Array(#"{"v":"kale/1"}"#.utf8))
        let outcome = await child.run(frame, taskID: "never-read", progress: { _, _ in })
        guard case .notStarted(let why) = outcome else {
            Issue.record("a run the child could not read came back \(outcome)")
            return
        }
        #expect(why.contains("\(child.pid)"), "\(why)")
    }
}

/// Kills the worker's child, waits until the supervisor has reaped it (the instant it
/// learns of the death), enqueues a task at once, and checks the task ran on its first
/// attempt: a task sent into the dying child must come back uncounted. The child is found
/// by running `kale.noop`, which returns the pid of the process that ran it.
func sendRightAfterTheChildDies(_ f: KaleFixture, rounds: Int) async throws -> [String] {
    var ids: [String] = []
    for round in 0..<rounds {
        let probe = try await f.client.enqueue(name: "kale.noop", args: .null)
        ids.append(probe.id)
        let child = try #require(pid(try await f.client.wait(for: probe.id, timeout: .seconds(20)).result))
        kill(child, SIGKILL)
        let deadline = ContinuousClock.now + .seconds(10)
        while !ProcessTable.isReaped(child), ContinuousClock.now < deadline { try await Task.sleep(for: .microseconds(200)) }
        let next = try await f.client.enqueue(name: "kale.noop", args: .null, options: .init(maxRetries: 3, backoff: .fixed(.milliseconds(50))))
        ids.append(next.id)
        let info = try await f.client.wait(for: next.id, timeout: .seconds(20))
        #expect(info.state == .succeeded, "round \(round): \(info.state) \(String(describing: info.error))")
        #expect(info.attempt == 1, "round \(round): the task spent an attempt: \(String(describing: info.error))")
        #expect(info.error == nil, "round \(round): \(String(describing: info.error))")
    }
    return ids
}

/// A pid from a task result (`kale.noop` and `kale.spawn-sleeper` return one).
func pid(_ result: JSONValue?) -> pid_t? {
    if case .number(let n)? = result { return pid_t(n) }
    return nil
}

/// Sets SIGPIPE to its default action (terminate) and returns what puts the previous one back,
/// for the tests that follow in this process.
func defaultSIGPIPE() -> () -> Void {
    var saved = sigaction()
    sigaction(SIGPIPE, nil, &saved)
    signal(SIGPIPE, SIG_DFL)
    return { sigaction(SIGPIPE, &saved, nil) }
}
