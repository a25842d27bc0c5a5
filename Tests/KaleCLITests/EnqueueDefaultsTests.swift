import Foundation
import Kale
import KaleCLI
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
}
