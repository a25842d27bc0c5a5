import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// A real `kale worker` process, as an operator would start it.
final class WorkerDaemon {
    let process = Process()
    let logPath: String

    /// The built `kale` executable next to the test bundle.
    static let executable: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/kale").path
    }()

    init(url: RedisURL, prefix: String, arguments: [String] = [], concurrency: Int = 2, environment: [String: String] = [:]) throws {
        logPath = FileManager.default.temporaryDirectory.appendingPathComponent("kale-worker-\(UUID().uuidString.prefix(8)).log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)!
        process.executableURL = URL(fileURLWithPath: WorkerDaemon.executable)
        process.arguments = ["worker", "--redis", url.connectionString, "--prefix", prefix,
                             "--concurrency", String(concurrency), "--log-level", "info"] + arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Waits until the worker has registered its heartbeat in Redis.
    func waitUntilReady(_ f: KaleFixture) async throws {
        let ready = try await waitUntil(timeout: .seconds(30)) {
            let ids = try await f.redis.send("ZRANGE", f.keys.workers, 0, -1).strings ?? []
            for id in ids where try await f.redis.send("HGET", f.keys.worker(id), "pid").string == String(pid) { return true }
            return false
        }
        #expect(ready, "worker \(pid) registered; log: \(log)")
    }

    /// This worker's id in the registry.
    func workerID(_ f: KaleFixture) async throws -> String? {
        for id in try await f.redis.send("ZRANGE", f.keys.workers, 0, -1).strings ?? [] {
            if try await f.redis.send("HGET", f.keys.worker(id), "pid").string == String(pid) { return id }
        }
        return nil
    }

    func signal(_ sig: Int32) { kill(pid, sig) }

    /// Waits for the process to exit and returns its status (nil on timeout).
    func waitForExit(timeout: Duration = .seconds(60)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// SIGTERM and wait; SIGKILL if it will not stop.
    func stop() async -> Int32? {
        signal(SIGTERM)
        let status = await waitForExit(timeout: .seconds(40))
        if status == nil { signal(SIGKILL) }
        return status
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

/// Pids of a worker's children, from its heartbeat entry; with the task each runs.
func children(of workerID: String, _ f: KaleFixture) async throws -> [Int32: String?] {
    let fields = try await f.redis.send("HGETALL", f.keys.worker(workerID)).hash ?? [:]
    var out: [Int32: String?] = [:]
    for child in WorkerInfo(id: workerID, fields: fields)?.children ?? [] { out[Int32(child.pid)] = child.taskID }
    return out
}
