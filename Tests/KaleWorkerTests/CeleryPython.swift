import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// A real Celery from PyPI (pinned in scripts/requirements-celery.txt, installed into
/// .venv-test/ by ./scripts/test.sh): the client script Tests/celery/bridge.py and `celery worker`.
struct CeleryPython {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python = root.appendingPathComponent(".venv-test/bin/python").path
    static let scripts = root.appendingPathComponent("Tests/celery").path

    let url: RedisURL
    /// kombu's and the result backend's `global_keyprefix`: this test's own Celery keys.
    let prefix: String

    init(_ f: KaleFixture) {
        url = f.server.url
        prefix = f.keys.prefix + "-celery:"
    }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["KALE_TEST_REDIS_URL"] = url.connectionString
        env["KALE_TEST_CELERY_PREFIX"] = prefix
        env["PYTHONPATH"] = Self.scripts
        return env
    }

    /// The worker arguments that take queue `queue` over with this test's prefixes.
    func workerArguments(_ queues: String = "celery") -> [String] {
        ["--celery-queues", queues, "--celery-broker-prefix", prefix, "--celery-result-prefix", prefix]
    }

    /// A `kale worker` taking this test's Celery queue over, with `extra` arguments; by default
    /// returned once it has registered.
    func kaleWorker(_ f: KaleFixture, _ extra: [String] = [], waitUntilReady: Bool = true) async throws -> WorkerDaemon {
        let worker = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: workerArguments() + extra)
        if waitUntilReady { try await worker.waitUntilReady(f) }
        return worker
    }

    /// Runs `bridge.py arguments…` and returns the JSON objects it printed.
    func run(_ arguments: String..., timeout: Duration = .seconds(150)) async throws -> [JSONValue] {
        try await run(arguments, timeout: timeout)
    }

    func run(_ arguments: [String], timeout: Duration = .seconds(150)) async throws -> [JSONValue] {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python),
                     "no \(Self.python): ./scripts/test.sh creates it with the pinned Celery")
        let outPath = FileManager.default.temporaryDirectory.appendingPathComponent("kale-celery-\(UUID().uuidString.prefix(8)).out").path
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [Self.scripts + "/bridge.py"] + arguments
        process.environment = environment
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        let errPath = outPath + ".err"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0,
                "bridge.py \(arguments) exited \(process.terminationStatus); printed: \(text)\nstderr: \(errors.suffix(2000))")
        return try text.split(separator: "\n").map { try JSONValue(parsing: Data($0.utf8)) }
    }

    /// An unmodified `celery worker` (prefork pool, default settings) on queue `queue`.
    func celeryWorker(queue: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = ["-m", "celery", "-A", "app", "worker", "-Q", queue, "--concurrency", "2", "--loglevel", "warning"]
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: Self.scripts)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }
}

extension KaleFixture {
    /// Problems with the bridge's end state: anything left in kombu's lists or its unacked hash,
    /// in Kale's intake list, or any bridged task not in its final place.
    func auditCelery(_ python: CeleryPython, queue: String = "celery", ids: [String]) async throws -> [String] {
        var problems: [String] = []
        let sep = "\u{06}\u{16}"
        for key in [queue, queue + sep + "3", queue + sep + "6", queue + sep + "9"] {
            let n = try await redis.send("LLEN", python.prefix + key).int ?? -1
            if n != 0 { problems.append("kombu list \(key.debugDescription) holds \(n)") }
        }
        for key in ["unacked", "unacked_index"] {
            let type = try await redis.send("TYPE", python.prefix + key).string ?? ""
            let n = type == "hash" ? try await redis.send("HLEN", python.prefix + key).int ?? 0
                : type == "zset" ? try await redis.send("ZCARD", python.prefix + key).int ?? 0 : 0
            if n != 0 { problems.append("kombu's \(key) holds \(n)") }
        }
        let intake = try await redis.send("LLEN", keys.celeryIntake(queue, brokerPrefix: python.prefix)).int ?? -1
        if intake != 0 { problems.append("Kale's intake list holds \(intake)") }
        problems += try await auditQueue(queue, ids: ids)
        return problems
    }
}

/// Runs the `kale` command line against the fixture's Redis; returns its exit status and stdout.
func runKale(_ arguments: [String], _ f: KaleFixture) throws -> (status: Int32, output: String) {
    let cli = Process()
    cli.executableURL = URL(fileURLWithPath: WorkerDaemon.executable)
    cli.arguments = arguments + ["--prefix", f.keys.prefix]
    var env = ProcessInfo.processInfo.environment
    env["KALE_REDIS_URL"] = f.server.url.connectionString
    cli.environment = env
    let pipe = Pipe()
    cli.standardOutput = pipe
    cli.standardError = FileHandle.nullDevice
    try cli.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    cli.waitUntilExit()
    return (cli.terminationStatus, output)
}
