import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import Testing

@Suite struct EnqueueCommandTests {
    @Test func printsIDsOfTasksThatExistInRedis() async throws {
        let cli = CLI(prefix: testNamespace())
        let run = try await cli.run(["enqueue", "kale.echo", "--args", #"{"x":1}"#, "--count", "3"])
        #expect(run.status == 0, "\(run)")
        #expect(run.lines.count == 3 && Set(run.lines).count == 3)
        let client = cli.client()
        for id in run.lines {
            let info = try #require(try await client.status(of: id, queue: "default"))
            #expect(info.state == .pending && info.name == "kale.echo")
        }
        #expect(try await client.redis.send("LLEN", Keys(prefix: cli.prefix).pending("default", .normal)).int == 3)
    }

    @Test func optionsReachTheStoredTask() async throws {
        let cli = CLI(prefix: testNamespace())
        let client = cli.client()
        let keys = Keys(prefix: cli.prefix)
        let run = try await cli.run([
            "enqueue", "reports.build", "--args", #"{"day":"2030-01-01"}"#, "--queue", "reports", "--priority", "high",
            "--retries", "7", "--time-limit", "5m", "--soft-time-limit", "90s", "--expires", "2h", "--json",
        ])
        #expect(run.status == 0, "\(run)")
        let object = try #require(try run.json().first)
        #expect(object.string("queue") == "reports" && object.bool("created") == true)
        let id = try #require(object.string("id"))
        #expect(try await client.redis.send("LRANGE", keys.pending("reports", .high), 0, -1).strings == [id])
        let info = try #require(try await client.status(of: id, queue: "reports"))
        #expect(info.maxRetries == 7 && info.priority == .high)
        let envelope = try KaleJSONFormat().decode(Array(try #require(info.message).utf8))
        #expect(envelope.args == .object(["day": .string("2030-01-01")]))
        #expect(envelope.timeLimitMs == 300_000 && envelope.softTimeLimitMs == 90_000)
        let expires = try #require(envelope.expiresAt)
        #expect(abs(expires - envelope.enqueuedAt - 7_200_000) < 5)
    }

    @Test func delayAndETAScheduleTheTask() async throws {
        let cli = CLI(prefix: testNamespace())
        let client = cli.client()
        let keys = Keys(prefix: cli.prefix)
        let delayed = try await cli.run(["enqueue", "t.later", "--delay", "250ms"])
        let eta = try await cli.run(["enqueue", "t.later", "--eta", "2030-01-01T06:00:00Z"])
        let fractional = try await cli.run(["enqueue", "t.later", "--eta", "2030-01-01T06:00:00.500+02:00"])
        for run in [delayed, eta, fractional] { #expect(run.status == 0, "\(run)") }
        let scores = try await client.redis.send("ZRANGE", keys.scheduled("default"), 0, -1, "WITHSCORES").strings ?? []
        #expect(scores.count == 6)
        let byID = Dictionary(uniqueKeysWithValues: stride(from: 0, to: scores.count, by: 2).map { (scores[$0], Int64(scores[$0 + 1]) ?? 0) })
        #expect(byID[eta.lines[0]] == 1_893_477_600_000)
        #expect(byID[fractional.lines[0]] == 1_893_470_400_500)
        let enqueuedAt = try #require(try await client.status(of: delayed.lines[0], queue: "default")?.enqueuedAt)
        let due = try #require(byID[delayed.lines[0]])
        #expect(abs(due - Int64(enqueuedAt.timeIntervalSince1970 * 1000) - 250) <= 1)
    }

    @Test func argsComeFromAFileOrStdin() async throws {
        let cli = CLI(prefix: testNamespace())
        let client = cli.client()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kale-args-\(UUID().uuidString).json")
        try Data(#"{"from": "file", "n": [1, 2]}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let fromFile = try await cli.run(["enqueue", "t.args", "--args-file", file.path])
        let fromStdin = try await cli.run(["enqueue", "t.args", "--args-file", "-"], stdin: #"["stdin", true]"#)
        let none = try await cli.run(["enqueue", "t.args"])
        var seen: [JSONValue] = []
        for run in [fromFile, fromStdin, none] {
            #expect(run.status == 0, "\(run)")
            let message = try #require(try await client.status(of: run.lines[0], queue: "default")?.message)
            seen.append(try KaleJSONFormat().decode(Array(message.utf8)).args)
        }
        #expect(seen == [
            .object(["from": .string("file"), "n": .array([.number(1), .number(2)])]),
            .array([.string("stdin"), .bool(true)]),
            .object([:]),
        ])
    }

    @Test func uniqueKeyReturnsTheExistingTask() async throws {
        let cli = CLI(prefix: testNamespace())
        let first = try await cli.run(["enqueue", "t.once", "--unique", "daily", "--unique-ttl", "1m", "--json"])
        let second = try await cli.run(["enqueue", "t.once", "--unique", "daily", "--json"])
        #expect(first.status == 0 && second.status == 0, "\(first)\n\(second)")
        let (a, b) = (try #require(try first.json().first), try #require(try second.json().first))
        #expect(a.bool("created") == true && b.bool("created") == false)
        #expect(a.string("id") == b.string("id"))
        #expect(second.stderr.contains("unique key 'daily' is held"))
        let client = cli.client()
        let ttl = try await client.redis.send("PTTL", Keys(prefix: cli.prefix).unique("default", "daily")).int ?? 0
        #expect(ttl > 50_000 && ttl <= 60_000)
    }

    @Test func countSendsThousandsInBatches() async throws {
        let cli = CLI(prefix: testNamespace())
        let run = try await cli.run(["enqueue", "t.bulk", "--count", "2500", "--queue", "bulk"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.lines.count == 2500 && Set(run.lines).count == 2500)
        let client = cli.client()
        #expect(try await client.redis.send("LLEN", Keys(prefix: cli.prefix).pending("bulk", .normal)).int == 2500)
        #expect(try await client.queues() == ["bulk"])
    }

    @Test func unknownTaskNameIsAcceptedAndDeadLetteredByTheWorker() async throws {
        let cli = CLI(prefix: testNamespace())
        let worker = try cli.startWorker()
        let run = try await cli.run(["enqueue", "no.such.task", "--wait", "--timeout", "20s", "--json"])
        #expect(run.status == 1, "\(run)")
        let task = try #require(try run.json().first)
        #expect(task.string("state") == "dead")
        #expect(task["error"]?.string("type") == "UnknownTask")
        #expect(run.stderr.contains("1 of 1 task did not succeed"))
        #expect(try await worker.stop().status == 0)
    }

    @Test func waitPrintsEveryResultAndProgress() async throws {
        let cli = CLI(prefix: testNamespace())
        let worker = try cli.startWorker()
        let run = try await cli.run(["enqueue", "kale.echo", "--args", #"{"v":"hi"}"#, "--count", "30", "--wait", "--timeout", "20s", "--json"])
        #expect(run.status == 0, "\(run)")
        let tasks = try run.json()
        #expect(tasks.count == 30 && Set(tasks.compactMap { $0.string("id") }).count == 30)
        for task in tasks {
            #expect(task.string("state") == "succeeded" && task.number("attempts") == 1)
            #expect(task["result"] == .object(["v": .string("hi")]))
        }
        // Not a terminal: plain progress lines instead of a redrawn bar.
        #expect(run.stderr.contains("done: 30/30") && !run.stderr.contains("\u{1B}[K"))

        let plain = try await cli.run(["enqueue", "kale.echo", "--args", "[1]", "--wait", "--timeout", "20s"])
        #expect(plain.status == 0, "\(plain)")
        let fields = try #require(plain.lines.first).split(separator: " ").map(String.init)
        #expect(fields.count == 3 && fields[1] == "succeeded" && fields[2] == "[1]")
        let client = cli.client()
        #expect(try await client.status(of: fields[0], queue: "default")?.state == .succeeded)
        #expect(try await worker.stop().status == 0)
    }

    /// Thousands of awaited tasks cost the CLI no subscription: their ends come through the
    /// batch's end list. (A wait per task subscribed to each task's channel, 500 at a time.)
    @Test func waitOnThousandsSubscribesToNothing() async throws {
        let server = try RedisServer()
        defer { server.stop() }
        let cli = CLI(prefix: testNamespace(), server: server)
        let client = cli.client()
        func subscriptions() async throws -> Int {
            let text = try await client.redis.send("INFO", "commandstats").string ?? ""
            return text.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("cmdstat_subscribe:") || $0.hasPrefix("cmdstat_ssubscribe:") }
                .compactMap { line in line.range(of: "calls=").flatMap { Int(line[$0.upperBound...].prefix { $0.isNumber }) } }
                .reduce(0, +)
        }
        let waiting = try cli.spawn(["enqueue", "kale.noop", "--count", "2000", "--wait", "--timeout", "60s"])
        let pending = Keys(prefix: cli.prefix).pending("default", .normal)
        #expect(try await waitUntil(timeout: .seconds(20)) { try await client.redis.send("LLEN", pending).int == 2000 })
        let before = try await subscriptions()
        let worker = try cli.startWorker()
        let run = try await waiting.wait(timeout: .seconds(90))
        #expect(run.status == 0, "\(run)")
        #expect(run.lines.count == 2000 && run.lines.allSatisfy { $0.split(separator: " ").dropFirst().first == "succeeded" }, "\(run.lines.prefix(3))")
        // The worker's own subscription (to cancel requests) is the one allowed.
        #expect(try await subscriptions() - before <= 1)
        #expect(try await worker.stop().status == 0)
    }

    @Test func waitExitsOneWhenATaskFails() async throws {
        let cli = CLI(prefix: testNamespace())
        let worker = try cli.startWorker()
        let run = try await cli.run(["enqueue", "kale.fail", "--args", #"{"message":"boom"}"#, "--retries", "0", "--wait", "--timeout", "20s"])
        #expect(run.status == 1, "\(run)")
        let line = try #require(run.lines.first)
        #expect(line.contains(" dead ") && line.contains("boom"))
        #expect(run.stderr.contains("kale: error: 1 of 1 task did not succeed"))
        #expect(try await worker.stop().status == 0)
    }

    /// A task's error message is printed with its control characters escaped: it must not be
    /// able to drive the operator's terminal.
    @Test func aTasksEscapeSequencesAreNotPrintedRaw() async throws {
        let cli = CLI(prefix: testNamespace())
        let worker = try cli.startWorker()
        let run = try await cli.run(["enqueue", "kale.fail", "--args", #"{"message":"\u001b[2J\u001b]0;owned\u0007 red"}"#,
                                     "--retries", "0", "--wait", "--timeout", "20s"])
        #expect(run.status == 1, "\(run)")
        #expect(!run.stdout.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" }, "\(run)")
        #expect(run.stdout.contains("\\u{1b}[2J"), "\(run)")
        #expect(try await worker.stop().status == 0)
    }

    @Test func waitTimesOutWithExitOneWhenNoWorkerRuns() async throws {
        let cli = CLI(prefix: testNamespace())
        let start = ContinuousClock.now
        let run = try await cli.run(["enqueue", "kale.noop", "--count", "2", "--wait", "--timeout", "300ms", "--json"])
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(run.status == 1, "\(run)")
        let tasks = try run.json()
        #expect(tasks.count == 2)
        for task in tasks { #expect(task.string("state") == "pending" && task.bool("timed_out") == true) }
        #expect(run.stderr.contains("did not end within 300ms"))
    }

    @Test func idOptionNamesTheTaskAndAReusedIDFails() async throws {
        let f = KaleFixture()
        let cli = CLI(prefix: f.keys.prefix)
        let run = try await cli.run(["enqueue", "invoices.send", "--id", "invoice:42"])
        #expect(run.status == 0, "\(run)")
        #expect(run.lines == ["invoice:42"])
        #expect(try await f.client.status(of: "invoice:42", queue: "default")?.name == "invoices.send")
        let again = try await cli.run(["enqueue", "invoices.send", "--id", "invoice:42"])
        #expect(again.status == 1, "\(again)")
        #expect(again.stderr.hasPrefix("kale: error: duplicate task id"), "\(again)")
        #expect(try await f.auditQueue("default", ids: ["invoice:42"]).isEmpty)
    }

    /// A server of its own that runs out of memory part way through the first batch of 1,000.
    @Test func idsOfTheEnqueuedPartArePrintedWhenRedisRefusesTheRest() async throws {
        let server = try RedisServer()
        defer { server.kill() }
        let f = KaleFixture(server: server)
        let cli = CLI(prefix: f.keys.prefix, server: server)
        let info = try await f.redis.send("INFO", "memory").string ?? ""
        let used = try #require(info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("used_memory:") }
            .flatMap { Int($0.dropFirst("used_memory:".count)) })
        try await f.redis.send("CONFIG", "SET", "maxmemory-policy", "noeviction")
        try await f.redis.send("CONFIG", "SET", "maxmemory", used + 1_500_000)
        let args = #"{"pad":"\#(String(repeating: "x", count: 1000))"}"#
        let run = try await cli.run(["enqueue", "t.bulk", "--args", args, "--count", "3000"])
        try await f.redis.send("CONFIG", "SET", "maxmemory", 0)

        #expect(run.status == 1, "\(run)")
        let prefix = f.keys.taskPrefix("default")
        let records = Set((try await f.redis.send("KEYS", prefix + "*").strings ?? []).map { String($0.dropFirst(prefix.count)) })
        #expect(!records.isEmpty && records.count < 1000, "part of the first batch was created: \(records.count)")
        #expect(Set(run.lines) == records && run.lines.count == records.count, "stdout lists exactly the tasks in Redis")
        let stderr = run.stderr.split(separator: "\n")
        #expect(stderr.count == 2 && stderr[0].hasPrefix("kale: error: enqueued \(records.count) of 3000 tasks; Redis refused the rest: OOM"), "\(run.stderr)")
        #expect(stderr.last?.hasPrefix("hint: the ids printed were enqueued") == true)
        #expect(try await f.auditQueue("default", ids: Array(records)).isEmpty)
    }
}
