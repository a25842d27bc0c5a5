import Foundation
import Glibc

/// A process a scenario starts and must stop whatever happens: output to a log file, stopped
/// with SIGTERM, then SIGKILL after a grace period, its children with it.
final class BenchProcess {
    let process = Process()
    let logPath: String

    init(executable: String, arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
         log: String, output: String? = nil) throws {
        logPath = log
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardInput = FileHandle.nullDevice
        process.standardError = try Self.file(log)
        process.standardOutput = try output.map(Self.file) ?? process.standardError
        // A spawned process inherits the spawning thread's signal mask, and Swift's pool threads
        // block nearly every signal: a Python worker would never see our SIGTERM (measured: it
        // waited out the grace period). Spawned with none blocked, as a shell would.
        var none = sigset_t(), previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }

    private static func file(_ path: String) throws -> FileHandle {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw BenchError("cannot create \(path)")
        }
        return handle
    }

    var pid: Int32 { process.processIdentifier }

    /// Waits up to `timeout` for the process to exit; true if it did.
    func waitForExit(_ timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return !process.isRunning
    }

    /// SIGTERM (a worker's warm shutdown), SIGKILL after `grace`; then SIGKILL to any of its
    /// children still alive, which a killed parent leaves behind (Celery's prefork pool).
    func stop(grace: Duration = .seconds(15)) async {
        guard process.isRunning else { return }
        // Taken now: once the parent is gone, its children are no longer found by parent pid.
        let children = descendants(of: pid).map { ($0, startTime($0)) }
        kill(pid, SIGTERM)
        if !(await waitForExit(grace)) {
            kill(pid, SIGKILL)
            _ = await waitForExit(.seconds(10))
        }
        // The start time tells a leftover child from a new process that was given its pid since.
        for (child, started) in children where started != nil && startTime(child) == started { kill(child, SIGKILL) }
    }

    /// The last `count` characters of the log, for an error message.
    func logTail(_ count: Int = 1500) -> String {
        String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(count))
    }

    deinit { if process.isRunning { kill(pid, SIGKILL) } }
}

/// Runs `body`, then stops `process`, also when `body` throws.
func stopping<T>(_ process: BenchProcess, _ body: () async throws -> T) async throws -> T {
    do {
        let result = try await body()
        await process.stop()
        return result
    } catch {
        await process.stop()
        throw error
    }
}

/// Children, grandchildren… of `pid`.
func descendants(of pid: Int32) -> [Int32] {
    childPids(of: pid).flatMap { [$0] + descendants(of: $0) }
}

/// When process `pid` started (field 22 of /proc/PID/stat, in clock ticks since boot); nil if gone.
func startTime(_ pid: Int32) -> String? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    return fields.count > 19 ? String(fields[19]) : nil
}
