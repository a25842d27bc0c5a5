import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// What one run of `kale` printed, and how it ended.
struct CLIRun: Sendable, CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    /// Stdout split into lines, without the empty last one.
    var lines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }

    /// Each stdout line parsed as JSON.
    func json() throws -> [JSONValue] {
        try lines.map { try JSONValue(parsing: Data($0.utf8)) }
    }

    var description: String { "exit \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
}

/// Runs the built `kale` executable against the shared test Redis, with a key prefix of its own.
///
/// Output goes to temporary files rather than pipes, so a chatty process can never block on a
/// full pipe while the test waits for it to exit.
struct CLI: Sendable {
    /// The prefix every run passes with `--prefix`.
    let prefix: String
    let server: RedisServer

    init(prefix: String, server: RedisServer = .shared) {
        self.prefix = prefix
        self.server = server
    }

    /// `--redis` for the test server, with its credentials (RedisURL's description hides them).
    var redisURL: String {
        let url = server.url
        var auth = ""
        if let password = url.password { auth = "\(url.user ?? ""):\(password)@" } else if let user = url.user { auth = "\(user)@" }
        switch url.endpoint {
        case .tcp(let host, let port): return "redis://\(auth)\(host):\(port)/\(url.database)"
        case .unix(let path): return "unix://\(path)"
        case .sentinel, .cluster: return url.connectionString
        }
    }

    /// The global flags every Redis command gets, appended after the command's own arguments.
    var globals: [String] { ["--redis", redisURL, "--prefix", prefix] }

    /// Runs `kale <arguments> --redis … --prefix …` to the end.
    ///
    /// - Parameters:
    ///   - globals: append `--redis` and `--prefix` (off for parse errors and help).
    ///   - environment: added to this process's environment (which never passes on `KALE_REDIS_URL`).
    func run(_ arguments: [String], globals: Bool = true, stdin: String? = nil, environment: [String: String] = [:],
             timeout: Duration = .seconds(30)) async throws -> CLIRun {
        let process = try Spawned(arguments + (globals ? self.globals : []), stdin: stdin, environment: environment)
        return try await process.wait(timeout: timeout)
    }

    /// Starts `kale <arguments> --redis … --prefix …` in the background.
    func spawn(_ arguments: [String]) throws -> Spawned {
        try Spawned(arguments + globals, stdin: nil, environment: [:])
    }

    /// Starts `kale worker` with two process-pool children and a 3 s lease, so its heartbeat
    /// (a third of the lease) refreshes the registry every second.
    func startWorker(queues: String = "default") throws -> Spawned {
        try spawn(["worker", "--queues", queues, "--concurrency", "2", "--lease", "3s", "--grace", "5s", "--log-level", "warning"])
    }

    /// A producer on the same Redis and prefix, to set up and check state directly.
    func client() -> KaleClient {
        KaleClient(configuration: KaleConfiguration(redis: server.configuration(poolSize: 2), keys: Keys(prefix: prefix)))
    }
}

/// A running `kale` process with its output captured to files.
final class Spawned {
    let process = Process()
    private let directory: URL
    private var stdoutURL: URL { directory.appendingPathComponent("stdout") }
    private var stderrURL: URL { directory.appendingPathComponent("stderr") }

    /// The `kale` executable of this build: `.build/<config>/kale`, next to the test bundle.
    static let binary: String = {
        var candidates: [URL] = []
        // The test bundle lives in the same products directory as the executable.
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(dir.appendingPathComponent("kale"))
            dir.deleteLastPathComponent()
        }
        // Tests/KaleCLITests/CLIRunner.swift -> package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/kale"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }?.path
            ?? root.appendingPathComponent(".build/debug/kale").path
    }()

    init(_ arguments: [String], stdin: String?, environment: [String: String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kale-cli-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data().write(to: stdoutURL)
        try Data().write(to: stderrURL)
        guard FileManager.default.isExecutableFile(atPath: Spawned.binary) else {
            throw CLITestError("no kale executable at \(Spawned.binary); run 'swift build --build-tests' first")
        }
        process.executableURL = URL(fileURLWithPath: Spawned.binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env[RedisURL.environmentKey] = nil
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        if let stdin {
            let input = directory.appendingPathComponent("stdin")
            try Data(stdin.utf8).write(to: input)
            process.standardInput = try FileHandle(forReadingFrom: input)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    var pid: Int32 { process.processIdentifier }

    /// What it has printed so far.
    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for the exit; after `timeout` kills it and throws.
    func wait(timeout: Duration = .seconds(30)) async throws -> CLIRun {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw CLITestError("kale \(process.arguments ?? []) did not exit within \(timeout)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        process.waitUntilExit()
        return CLIRun(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }

    /// SIGTERM (a worker's warm shutdown), then waits for the exit.
    func stop(timeout: Duration = .seconds(15)) async throws -> CLIRun {
        signal(SIGTERM)
        return try await wait(timeout: timeout)
    }
}

struct CLITestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension JSONValue {
    /// The member `key` as a string, number or bool, for short assertions.
    func string(_ key: String) -> String? {
        if case .string(let s)? = self[key] { return s }
        return nil
    }

    func number(_ key: String) -> Double? {
        if case .number(let n)? = self[key] { return n }
        return nil
    }

    func bool(_ key: String) -> Bool? {
        if case .bool(let b)? = self[key] { return b }
        return nil
    }
}

/// Every key under `prefix`, to prove a refused command wrote nothing.
func keys(under prefix: String, server: RedisServer = .shared) async throws -> [String] {
    let redis = RedisClient(configuration: server.configuration(poolSize: 1))
    defer { redis.close() }
    return try await redis.send("KEYS", "\(prefix):*").strings ?? []
}
