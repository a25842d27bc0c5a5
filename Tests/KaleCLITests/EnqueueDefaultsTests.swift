import Foundation
import Kale
import KaleCLI
import KaleDashboard
import KaleRedis
import KaleTestSupport
import Testing

/// `MyWorker enqueue <name>` in an executable that registers the task: the task's declared
/// defaults fill what the flags leave out, and a flag wins (issue 15).
///
/// The stand-alone `kale` registers no task with defaults, so each test runs
/// `KaleCLI.main(registry:arguments:)` as such an executable does, in an exit test: a child
/// process of this test binary, which `main` may end with `exit` and whose logging it may set up.
@Suite struct EnqueueDefaultsTests {
    /// The README's kind of task: its own queue, retries, a time limit and a priority.
    static let name = "images.thumbnail"
    static let defaults = EnqueueOptions(queue: "images", priority: .high, maxRetries: 7, timeLimit: .seconds(5))

    /// The registry of the executable under test (built in the child process, which shares
    /// nothing with the test but the captured values).
    static func registry() -> TaskRegistry {
        let registry = TaskRegistry()
        registry.register(TaskHandler(name: name, defaultOptions: defaults) { args, _ in args })
        return registry
    }

    /// Runs `MyWorker <arguments> --redis … --prefix …` to its exit; returns what it printed.
    static func run(_ cli: CLI, _ arguments: [String]) async throws -> String {
        let arguments = arguments + cli.globals
        let result = try await #require(processExitsWith: .success, observing: [\.standardOutputContent]) {
            [arguments = arguments as [String]] in
            await KaleCLI.main(registry: EnqueueDefaultsTests.registry(), arguments: arguments)
        }
        return String(decoding: result.standardOutputContent, as: UTF8.self)
    }

    /// POSTs `body` to `url` with curl, retrying while nothing listens there yet; returns
    /// curl's exit status (0 for a 2xx answer, printed to stdout).
    static func post(_ body: String, to url: String, token: String) async throws -> Int32 {
        for _ in 0..<500 {
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            curl.arguments = [
                "curl", "-sf", "-X", "POST", "-H", "Authorization: Bearer \(token)",
                "-H", "Content-Type: application/json", "-d", body, url,
            ]
            try curl.run()
            curl.waitUntilExit()
            // 7: could not connect, the server is not listening yet.
            guard curl.terminationStatus == 7 else { return curl.terminationStatus }
            try await Task.sleep(for: .milliseconds(20))
        }
        return 7
    }

    @Test func registeredDefaultsApplyWhenNoFlagSetsThem() async throws {
        let cli = CLI(prefix: testNamespace())
        let client = cli.client()
        let keys = Keys(prefix: cli.prefix)
        let id = try await Self.run(cli, ["enqueue", Self.name]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await client.redis.send("LRANGE", keys.pending("images", .high), 0, -1).strings == [id])
        #expect(try await client.redis.send("EXISTS", keys.pending("default", .normal)).int == 0, "nothing in default")
        let info = try #require(try await client.status(of: id, queue: "images"))
        #expect(info.maxRetries == 7 && info.priority == .high)
        let envelope = try KaleJSONFormat().decode(Array(try #require(info.message).utf8))
        #expect(envelope.queue == "images" && envelope.maxRetries == 7 && envelope.timeLimitMs == 5_000)
    }

    @Test func flagsWinOverRegisteredDefaults() async throws {
        let cli = CLI(prefix: testNamespace())
        let client = cli.client()
        let keys = Keys(prefix: cli.prefix)
        let out = try await Self.run(cli, ["enqueue", Self.name, "--queue", "other", "--retries", "1"])
        let id = out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await client.redis.send("LRANGE", keys.pending("other", .high), 0, -1).strings == [id])
        let info = try #require(try await client.status(of: id, queue: "other"))
        #expect(info.maxRetries == 1, "--retries wins")
        #expect(info.priority == .high, "what no flag sets still comes from the task")
        let envelope = try KaleJSONFormat().decode(Array(try #require(info.message).utf8))
        #expect(envelope.timeLimitMs == 5_000)
        #expect(try await client.redis.send("EXISTS", keys.pending("images", .high)).int == 0)
    }

    @Test func countBatchesGetTheDefaultsToo() async throws {
        let cli = CLI(prefix: testNamespace())
        let client = cli.client()
        let keys = Keys(prefix: cli.prefix)
        let printed = try await Self.run(cli, ["enqueue", Self.name, "--count", "3"]).split(separator: "\n").map(String.init)
        let ids = try await client.redis.send("LRANGE", keys.pending("images", .high), 0, -1).strings ?? []
        #expect(ids.count == 3 && Set(ids) == Set(printed))
        for id in ids { #expect(try await client.status(of: id, queue: "images")?.maxRetries == 7) }
    }

    /// `POST /api/tasks` of a dashboard served by the same executable: the child serves it,
    /// posts to it and prints the answer.
    @Test func dashboardEnqueueGetsTheDefaultsToo() async throws {
        let cli = CLI(prefix: testNamespace())
        let client = cli.client()
        let keys = Keys(prefix: cli.prefix)
        let arguments = ["dashboard", "--port", String(try RedisServer.freePort())] + cli.globals
        let result = try await #require(processExitsWith: .success, observing: [\.standardOutputContent]) {
            [arguments = arguments as [String]] in
            let token = "defaults-test-token-0123456789"
            setenv(DashboardCommand.tokenVariable, token, 1)
            // Unstructured: `main` never returns, and this child must go on to post to it.
            Task { await KaleCLI.main(registry: EnqueueDefaultsTests.registry(), commands: [DashboardCommand.self], arguments: arguments) }
            let url = "http://127.0.0.1:\(arguments[2])/api/tasks"
            exit(try await EnqueueDefaultsTests.post(#"{"name": "images.thumbnail", "max_retries": 1}"#, to: url, token: token))
        }
        let answer = try JSONValue(parsing: Data(result.standardOutputContent))
        let id = try #require(answer.string("id"))
        #expect(answer.string("queue") == "images")
        #expect(try await client.redis.send("LRANGE", keys.pending("images", .high), 0, -1).strings == [id])
        let info = try #require(try await client.status(of: id, queue: "images"))
        #expect(info.maxRetries == 1, "the request's max_retries wins")
        let envelope = try KaleJSONFormat().decode(Array(try #require(info.message).utf8))
        #expect(envelope.timeLimitMs == 5_000)
    }
}
