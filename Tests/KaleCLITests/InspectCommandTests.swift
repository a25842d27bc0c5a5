import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Testing

@Suite struct InspectCommandTests {
    @Test func queuesCountEveryStateAndTheLastMinute() async throws {
        let cli = CLI(prefix: testNamespace())
        let client = cli.client()
        let keys = Keys(prefix: cli.prefix)
        _ = try await cli.run(["enqueue", "t.a", "--count", "2"])
        _ = try await cli.run(["enqueue", "t.a", "--priority", "high"])
        _ = try await cli.run(["enqueue", "t.a", "--delay", "1h"])
        _ = try await cli.run(["enqueue", "t.b", "--queue", "other"])
        // Counters as the scripts write them: one in this bucket, one a minute and a half ago
        // (outside the window), dead and failed both counting as failed.
        let bucket = Broker.now() / 10_000
        for (kind, b, n) in [("succeeded", bucket, 4), ("succeeded", bucket - 9, 100), ("dead", bucket - 1, 2), ("failed", bucket, 1)] {
            try await client.redis.send("SET", keys.statsPrefix("default") + "\(kind):\(b)", n)
        }
        let run = try await cli.run(["inspect", "queues", "--json"])
        #expect(run.status == 0, "\(run)")
        let queues = try run.json()
        #expect(queues.compactMap { $0.string("queue") } == ["default", "other"])
        let q = queues[0]
        #expect(q.number("pending") == 3 && q["pending_by_priority"]?.number("high") == 1)
        #expect(q.number("scheduled") == 1 && q.number("active") == 0 && q.number("dead") == 0)
        #expect(q.number("completed_last_minute") == 4 && q.number("failed_last_minute") == 3)
        #expect(q["counters_last_minute"]?.number("dead") == 2)

        let plain = try await cli.run(["inspect", "queues"])
        #expect(plain.lines.first?.hasPrefix("QUEUE") == true)
        let row = try #require(plain.lines.first { $0.hasPrefix("default ") }).split(separator: " ")
        #expect(row == ["default", "3", "1", "0", "0", "4", "3", "running"], "\(plain)")
    }

    @Test func workersShowTheRunningTaskAndSkipExpiredEntries() async throws {
        let cli = CLI(prefix: testNamespace())
        let client = cli.client()
        // A worker that died without deregistering: in the set, its hash long expired.
        try await client.redis.send("ZADD", Keys(prefix: cli.prefix).workers, 1, "ghost-1-abc")
        let worker = try cli.startWorker()
        let id = try #require(try await cli.run(["enqueue", "kale.sleep", "--args", #"{"ms":20000}"#]).lines.first)
        var listed: JSONValue?
        let seen = try await waitUntil(timeout: .seconds(10)) {
            let workers = try await cli.run(["inspect", "workers", "--json"]).json()
            listed = workers.first
            return workers.count == 1 && workers[0].number("running_count") == 1
        }
        #expect(seen, "the heartbeat never showed the running task: \(String(describing: listed))")
        let w = try #require(listed)
        #expect(w.number("pid") == Double(worker.pid))
        #expect(w.number("concurrency") == 2 && w.string("pool") == "process" && w.string("host") == ProcessInfo.processInfo.hostName)
        #expect(w["oldest_running"]?.string("id") == id && w["oldest_running"]?.string("name") == "kale.sleep")

        let overview = try await cli.run(["inspect"])
        #expect(overview.status == 0, "\(overview)")
        let workerRow = try #require(overview.lines.first { $0.hasPrefix(w.string("id") ?? "?") })
        #expect(workerRow.contains("kale.sleep \(id)"))
        #expect(!overview.stdout.contains("ghost"))
        let queueRow = try #require(overview.lines.first { $0.hasPrefix("default ") }).split(separator: " ")
        #expect(queueRow[3] == "1", "one active task: \(overview)")

        let json = try #require(try await cli.run(["inspect", "--json"]).json().first)
        if case .array(let workers)? = json["workers"] { #expect(workers.count == 1) } else { Issue.record("no workers array: \(json)") }

        _ = try await cli.run(["cancel", id])
        #expect(try await worker.stop().status == 0)
        #expect(try await cli.run(["inspect", "workers", "--json"]).lines.isEmpty, "a stopped worker deregisters")
    }

    @Test func taskShowsArgsLimitsAndState() async throws {
        let cli = CLI(prefix: testNamespace())
        let id = try #require(try await cli.run([
            "enqueue", "t.report", "--args", #"{"day":1}"#, "--eta", "2030-01-01T06:00:00Z", "--time-limit", "5m",
        ]).lines.first)
        let run = try await cli.run(["inspect", "task", id, "--json"])
        #expect(run.status == 0, "\(run)")
        let task = try #require(try run.json().first)
        #expect(task.string("id") == id && task.string("state") == "scheduled" && task.string("name") == "t.report")
        #expect(task["args"] == .object(["day": .number(1)]))
        #expect(task.string("eta") == "2030-01-01T06:00:00.000Z" && task.number("time_limit_ms") == 300_000)

        let plain = try await cli.run(["inspect", "task", id, "--queue", "default"])
        #expect(plain.lines.contains(#"args:        {"day":1}"#), "\(plain)")
        #expect(plain.lines.contains("time limit:  5m"))

        let missing = try await cli.run(["inspect", "task", "no-such-id"])
        #expect(missing.status == 1 && missing.stderr.hasPrefix("kale: error: no task no-such-id"))
    }

    @Test func watchRedrawsEverySecondUntilInterrupted() async throws {
        let cli = CLI(prefix: testNamespace())
        _ = try await cli.run(["enqueue", "t.a"])
        let watch = try cli.spawn(["inspect", "queues", "--watch"])
        let clear = "\u{1B}[H"
        #expect(await waitUntil(timeout: .seconds(6)) { watch.stdout.components(separatedBy: clear).count >= 3 })
        watch.signal(SIGINT)
        let run = try await watch.wait(timeout: .seconds(5))
        #expect(run.status == 0, "\(run)")
        let frames = run.stdout.components(separatedBy: clear).dropFirst()
        for frame in frames { #expect(frame.contains("default") && frame.contains("prefix \(cli.prefix)")) }

        let json = try cli.spawn(["inspect", "queues", "--watch", "--json"])
        #expect(await waitUntil(timeout: .seconds(6)) { json.stdout.split(separator: "\n").count >= 2 })
        json.signal(SIGINT)
        let jsonRun = try await json.wait(timeout: .seconds(5))
        #expect(jsonRun.status == 0 && !jsonRun.stdout.contains(clear))
        for snapshot in try jsonRun.json() { #expect(snapshot.number("pending") == 1) }
    }

    @Test func watchRidesOutARedisOutage() async throws {
        let server = try RedisServer()
        defer { server.kill() }
        let cli = CLI(prefix: testNamespace(), server: server)
        _ = try await cli.run(["enqueue", "t.a"])
        let watch = try cli.spawn(["inspect", "queues", "--watch"])
        #expect(await waitUntil(timeout: .seconds(5)) { watch.stdout.contains("default ") })
        server.stop()
        #expect(await waitUntil(timeout: .seconds(5)) { watch.stdout.contains("cannot reach Redis") }, "\(watch.stdout)")
        try server.start()
        let before = watch.stdout.components(separatedBy: "cannot reach Redis").count
        // No Redis persistence in tests: the restarted server is empty, so the frame says so.
        #expect(await waitUntil(timeout: .seconds(6)) {
            watch.stdout.components(separatedBy: "cannot reach Redis").last?.contains("no queues") == true
        }, "\(watch.stdout)")
        #expect(before > 1)
        watch.signal(SIGINT)
        let run = try await watch.wait(timeout: .seconds(5))
        #expect(run.status == 0)
        #expect(run.stderr.isEmpty, "the frame reports the outage; no log lines: \(run.stderr)")
    }
}
