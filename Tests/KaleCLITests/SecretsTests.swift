import Foundation
import Glibc
import Kale
@testable import KaleCLI
import KaleRedis
import KaleTestSupport
import Testing

/// The Redis password stays off every command line: `ps` shows those to every user of a host.
@Suite(.serialized, .timeLimit(.minutes(2))) struct SecretsTests {
    @Test func passwordNeverOnAChildCommandLine() async throws {
        let (password, server, f, cli) = try protectedRedis()
        defer { server.kill() }
        let worker = try cli.startWorker()
        var children: [pid_t] = []
        // Until it execs, a child spawned a moment ago still shows its parent's command line
        // in /proc (seen under load): wait for both to show their own.
        let parent = ProcessTable.commandLine(worker.pid)
        #expect(await waitUntil(timeout: .seconds(20)) {
            children = ProcessTable.children(of: worker.pid)
            return children.count == 2 && children.allSatisfy { ProcessTable.commandLine($0) != parent }
        }, "the worker started its two children")
        for child in children {
            let line = try #require(ProcessTable.commandLine(child)).joined(separator: " ")
            #expect(line.contains("worker"), "\(line)")
            #expect(!line.contains(password), "child \(child) shows the password: \(line)")
        }
        // The children still serve the supervisor, which still reaches Redis.
        let ref = try await f.client.enqueue(name: "kale.echo", args: .string("hi"))
        #expect(try await f.client.wait(for: ref.id, timeout: .seconds(20)).state == .succeeded)
        let log = try await worker.stop().stderr
        #expect(log.components(separatedBy: "KALE_REDIS_URL").count == 2, "one warning about --redis: \(log)")
        #expect(!log.contains(password))
        #expect(try await f.auditQueue("default", ids: [ref.id]).isEmpty)
    }

    @Test func childArgumentsLeaveOutTheRedisFlagInBothSpellings() {
        let supervisor = ["worker", "--redis", "redis://:pw@h:1/0", "--queues", "a", "--redis=redis://:pw@h:1/0", "--prefix", "p"]
        #expect(WorkerCommand.childArguments(supervisor) == ["worker", "--queues", "a", "--prefix", "p"])
        #expect(WorkerCommand.childArguments(["worker", "--", "--redis", "x"]) == ["worker", "--", "--redis", "x"])
    }

    @Test func livenessProbeKeepsThePasswordOffTheCommandLine() async throws {
        let (password, server, f, cli) = try protectedRedis()
        defer { server.kill() }
        let worker = try cli.startWorker()
        #expect(await waitUntil(timeout: .seconds(20)) {
            let ids = (try? await f.redis.send("ZRANGE", f.keys.workers, 0, -1).strings) ?? []
            return !ids.isEmpty
        }, "the worker registered")

        // A redis-cli first on PATH that notes its arguments, then runs the real one.
        let shim = FileManager.default.temporaryDirectory.appendingPathComponent("kale-probe-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: shim, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: shim) }
        let real = try #require(["/usr/bin/redis-cli", "/usr/local/bin/redis-cli"].first { FileManager.default.isExecutableFile(atPath: $0) })
        let script = "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '\(shim.path)/argv'\nexec \(real) \"$@\"\n"
        try script.write(to: shim.appendingPathComponent("redis-cli"), atomically: true, encoding: .utf8)
        chmod(shim.appendingPathComponent("redis-cli").path, 0o755)

        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/bin/sh")
        probe.arguments = [packageRoot.appendingPathComponent("deploy/container/kale-worker-alive").path]
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = shim.path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        environment["KALE_REDIS_URL"] = cli.redisURL
        environment["KALE_PREFIX"] = f.keys.prefix
        environment["KALE_WORKER_PID"] = String(worker.pid)
        probe.environment = environment
        probe.standardOutput = FileHandle.nullDevice
        try probe.run()
        probe.waitUntilExit()
        #expect(probe.terminationStatus == 0, "the probe authenticated and found the heartbeat")
        let argv = (try? String(contentsOf: shim.appendingPathComponent("argv"), encoding: .utf8)) ?? ""
        #expect(!argv.isEmpty, "the probe ran redis-cli")
        #expect(!argv.contains(password), "redis-cli was started with the password: \(argv)")
        _ = try await worker.stop()
    }
}

/// A server of its own that requires a password, and a fixture and CLI that log in to it.
private func protectedRedis(_ function: String = #function) throws -> (password: String, server: RedisServer, f: KaleFixture, cli: CLI) {
    let password = "pw-\(UUID().uuidString.prefix(8))"
    let server = try RedisServer(password: password)
    let f = KaleFixture(function, server: server)
    return (password, server, f, CLI(prefix: f.keys.prefix, server: server))
}

/// The package root, from this file's path (Tests/KaleCLITests/SecretsTests.swift).
private let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
