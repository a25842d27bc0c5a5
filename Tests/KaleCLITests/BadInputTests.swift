import Foundation
import KaleTestSupport
import Testing

/// Bad input of every kind: one error line naming the problem, a hint, the documented exit
/// code, nothing on stdout, and nothing written to Redis.
@Suite struct BadInputTests {
    static let usageErrors: [(arguments: [String], says: String)] = [
        (["bogus"], "unknown command 'bogus'"),
        (["dead", "bogus"], "unknown command 'bogus'"),
        (["enqueue", "t.x", "--bogus"], "Unknown option '--bogus'"),
        (["enqueue"], "Missing expected argument '<name>'"),
        (["enqueue", "t.x", "--args", "{bad"], "--args is not valid JSON"),
        (["enqueue", "t.x", "--args", ""], "--args is not valid JSON"),
        (["enqueue", "t.x", "--args-file", "/nonexistent/args.json"], "cannot read --args-file"),
        (["enqueue", "t.x", "--args", "{}", "--args-file", "-"], "--args and --args-file cannot be used together"),
        (["enqueue", "t.x", "--delay", "5x"], "'5x' is invalid for '--delay <duration>'"),
        (["enqueue", "t.x", "--expires=-3s"], "'-3s' is invalid for '--expires <duration>'"),
        (["enqueue", "t.x", "--time-limit", "3w"], "'3w' is invalid for '--time-limit <duration>'"),
        (["enqueue", "t.x", "--eta", "tomorrow"], "--eta 'tomorrow' is not an ISO 8601 time"),
        (["enqueue", "t.x", "--delay", "1s", "--eta", "2030-01-01T00:00:00Z"], "--delay and --eta cannot be used together"),
        (["enqueue", "t.x", "--priority", "urgent"], "unknown priority 'urgent' (use high, normal or low)"),
        (["enqueue", "t.x", "--queue", "bad{tag}"], "'bad{tag}' is not a valid queue name"),
        (["enqueue", "t.x", "--retries=-1"], "--retries must be 0 or more"),
        (["enqueue", "t.x", "--count", "0"], "--count must be at least 1"),
        (["enqueue", "t.x", "--encrypt"], "task t.x asks for encryption, but this client holds no keys"),
        (["enqueue", "t.x", "--encrypt", "--celery"], "--encrypt is for Kale's own tasks"),
        (["enqueue", "t.x", "--timeout", "1s"], "--timeout needs --wait"),
        (["enqueue", "t.x", "--unique-ttl", "1m"], "--unique-ttl needs --unique"),
        (["enqueue", "t.x", "--unique", "k", "--count", "2"], "--unique with --count"),
        (["enqueue", "t.x", "--id", ""], "--id: task id must not be empty"),
        (["enqueue", "t.x", "--id", String(repeating: "x", count: 201)], "--id: task id is 201 bytes long; the limit is 200 bytes"),
        (["enqueue", "t.x", "--id", "two words"], #"--id: task id "two words" contains whitespace"#),
        (["enqueue", "t.x", "--id", "line\nbreak"], #"--id: task id "line\nbreak" contains whitespace or a control character"#),
        (["enqueue", "t.x", "--id", "a{b}"], "--id: task id \"a{b}\" contains '{' or '}'"),
        (["enqueue", "t.x", "--id", "a", "--count", "2"], "--id with --count would reuse one id"),
        (["result", "some-id", "--timeout", "1s"], "--timeout needs --wait"),
        (["result"], "Missing expected argument '<id>'"),
        (["cancel"], "Missing expected argument '<id>'"),
        (["inspect", "task"], "Missing expected argument '<id>'"),
        (["dead", "retry"], "give the ids of dead tasks to retry, or --all"),
        (["dead", "retry", "some-id", "--all"], "give task ids or --all, not both"),
        (["dead", "list", "--limit", "0"], "--limit must be at least 1"),
        (["dead", "purge"], "refusing to delete dead tasks without --yes"),
        (["purge", "jobs"], "refusing to delete the waiting tasks of 'jobs' without --yes"),
        (["purge", "bad{q}", "--yes"], "'bad{q}' is not a valid queue name"),
        (["ping", "--redis", "notaurl"], "notaurl"),
    ]

    @Test(arguments: usageErrors)
    func usageErrorExitsTwoAndWritesNothing(_ arguments: [String], says: String) async throws {
        let cli = CLI(prefix: testNamespace())
        // The test server's URL comes right after the command words, so a refusal is never a
        // Redis error; a later --redis (the bad-URL case) overrides it.
        let run = try await cli.run(Self.withGlobals(arguments, cli), globals: false, stdin: "{}")
        #expect(run.status == 2, "\(run)")
        expectOneErrorAndHint(run, says: says)
        #expect(try await keys(under: cli.prefix).isEmpty, "a refused command wrote to Redis")
    }

    /// Puts `--redis`/`--prefix` right after the command words, before any test-supplied --redis.
    static func withGlobals(_ arguments: [String], _ cli: CLI) -> [String] {
        let commandWords = ["enqueue", "result", "cancel", "inspect", "task", "dead", "retry", "list", "purge", "ping"]
        let n = arguments.prefix { commandWords.contains($0) }.count
        guard n > 0, arguments != ["dead", "bogus"] else { return arguments }
        return Array(arguments.prefix(n)) + cli.globals + Array(arguments.dropFirst(n))
    }

    static let redisCommands: [[String]] = [
        ["enqueue", "t.x"], ["result", "some-id"], ["cancel", "some-id"], ["inspect"], ["inspect", "queues"],
        ["inspect", "workers"], ["inspect", "task", "some-id"], ["dead", "list"], ["dead", "retry", "--all"],
        ["dead", "purge", "--yes"], ["purge", "jobs", "--yes"], ["ping"],
    ]

    @Test(arguments: redisCommands)
    func unreachableRedisExitsThree(_ arguments: [String]) async throws {
        let cli = CLI(prefix: testNamespace())
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let run = try await cli.run(arguments + ["--redis", "redis://127.0.0.1:1"], globals: false)
        #expect(run.status == 3, "\(run)")
        expectOneErrorAndHint(run, says: "cannot reach Redis")
    }

    @Test func oversizeArgsAreRefusedBeforeAnythingIsWritten() async throws {
        let cli = CLI(prefix: testNamespace())
        let big = #"{"pad":""# + String(repeating: "x", count: 1_100_000) + #""}"#
        let run = try await cli.run(["enqueue", "t.x", "--args-file", "-"], stdin: big)
        #expect(run.status == 2, "\(run)")
        expectOneErrorAndHint(run, says: "exceeds the limit of 1048576 bytes")
        #expect(try await keys(under: cli.prefix).isEmpty)
    }

    @Test(arguments: [
        (["KALE_REPLICAS": "two"], "KALE_REPLICAS must be a number of replicas from 0 to 100, not 'two'"),
        (["KALE_REPLICAS": "-1"], "KALE_REPLICAS must be a number of replicas from 0 to 100, not '-1'"),
        (["KALE_REPLICAS": "1", "KALE_REPLICA_TIMEOUT": "soon"], "KALE_REPLICA_TIMEOUT must be a duration of 1ms or more, not 'soon'"),
        (["KALE_REPLICAS": "1", "KALE_REPLICA_TIMEOUT": "0s"], "KALE_REPLICA_TIMEOUT must be a duration of 1ms or more, not '0s'"),
        (["KALE_SIGNING_KEYS": "k1:short"], "key 'k1' is not valid base64"),
        (["KALE_SIGNING_KEYS": "k1:c2hvcnQ="], "key 'k1' has 5 bytes; at least 16 are needed"),
        (["KALE_SIGNING_KEYS": "k1:\(String(repeating: "A", count: 44))", "KALE_CELERY_UNSIGNED": "maybe"],
         "KALE_CELERY_UNSIGNED must be accept or refuse, not 'maybe'"),
    ])
    func badReplicationSettingsAreAUsageError(_ environment: [String: String], says: String) async throws {
        let cli = CLI(prefix: testNamespace())
        let run = try await cli.run(["enqueue", "t.x"], environment: environment)
        #expect(run.status == 2, "\(run)")
        expectOneErrorAndHint(run, says: says)
        #expect(try await keys(under: cli.prefix).isEmpty, "a refused command wrote to Redis")
    }

    @Test func badPrefixIsAUsageErrorNotACrash() async throws {
        let cli = CLI(prefix: testNamespace())
        let run = try await cli.run(["enqueue", "t.x", "--redis", cli.redisURL, "--prefix", "a{b}"], globals: false)
        #expect(run.status == 2, "\(run)")
        expectOneErrorAndHint(run, says: "--prefix must be non-empty")
    }

    private func expectOneErrorAndHint(_ run: CLIRun, says: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = run.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "one error line and one hint: \(run)", sourceLocation: sourceLocation)
        #expect(lines.first?.hasPrefix("kale: error: ") == true, sourceLocation: sourceLocation)
        #expect(lines.first?.contains(says) == true, "expected '\(says)' in: \(run.stderr)", sourceLocation: sourceLocation)
        #expect(lines.last?.hasPrefix("hint: ") == true, sourceLocation: sourceLocation)
        #expect(run.stdout.isEmpty, sourceLocation: sourceLocation)
    }
}

@Suite struct HelpTests {
    static let commands: [[String]] = [
        [], ["enqueue"], ["result"], ["cancel"], ["inspect"], ["inspect", "overview"], ["inspect", "queues"],
        ["inspect", "workers"], ["inspect", "task"], ["dead"], ["dead", "list"], ["dead", "retry"], ["dead", "purge"],
        ["purge"], ["ping"], ["worker"], ["queue"], ["limits"], ["schedule"],
    ]

    @Test(arguments: commands)
    func everyCommandHasHelpWithAnExample(_ path: [String]) async throws {
        let run = try await CLI(prefix: "unused").run(path + ["--help"], globals: false)
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("USAGE: kale\(path.map { " " + $0 }.joined())"))
        #expect(run.stdout.contains("Example"), "\(path) --help has no example")
        #expect(run.stderr.isEmpty)
    }
}
