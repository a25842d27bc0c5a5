import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// A real `ExampleWorker worker` process, started the way an operator starts it.
final class ExampleWorkerProcess {
    let process = Process()
    let logPath: String

    /// The executable `swift build` put beside this package's tests: in the folder of the
    /// running test bundle, whichever build folder that is (scripts/test-examples.sh shares
    /// the core package's).
    static let executable: String = {
        let bundle = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent("ExampleWorker").path
    }()

    init(fixture: KaleFixture, outputDirectory: String, concurrency: Int = 2) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "build the package first (swift build): \(Self.executable) is missing"])
        }
        logPath = outputDirectory + "/worker.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)!
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = ["worker", "--redis", fixture.server.url.plainString, "--prefix", fixture.keys.prefix,
                             "--concurrency", String(concurrency), "--log-level", "info"]
        var environment = ProcessInfo.processInfo.environment
        environment["KALE_EXAMPLES_OUT"] = outputDirectory
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until the worker's heartbeat has put it in the registry.
    func waitUntilReady(_ fixture: KaleFixture) async throws {
        let ready = try await waitUntil(timeout: .seconds(30)) {
            for id in try await fixture.redis.send("ZRANGE", fixture.keys.workers, 0, -1).strings ?? [] {
                if try await fixture.redis.send("HGET", fixture.keys.worker(id), "pid").string == String(pid) { return true }
            }
            return false
        }
        #expect(ready, "worker registered; log:\n\(log)")
    }

    /// SIGTERM and wait for a warm shutdown; SIGKILL if it will not stop.
    func stop() async {
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(pid, SIGKILL) }
    }

    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

extension RedisURL {
    /// The URL for a child process's command line (test servers have no password).
    var plainString: String {
        guard case .tcp(let host, let port) = endpoint else { return description }
        return "redis://\(host):\(port)/\(database)"
    }
}
