import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import Testing

@Suite struct DeadCommandTests {
    /// Three dead tasks in two queues, made by a real worker: two failures and an unknown name.
    private func makeDeadTasks(_ cli: CLI) async throws -> (fail: [String], unknown: String) {
        let worker = try cli.startWorker(queues: "default,other")
        let fail = try await cli.run(["enqueue", "kale.fail", "--args", #"{"message":"boom"}"#, "--retries", "0", "--count", "2", "--wait", "--timeout", "20s"])
        let unknown = try await cli.run(["enqueue", "no.such.task", "--queue", "other", "--wait", "--timeout", "20s"])
        #expect(try await worker.stop().status == 0)
        #expect(fail.status == 1 && unknown.status == 1, "\(fail)\n\(unknown)")
        return (fail.lines.map { String($0.prefix { $0 != " " }) }, String(try #require(unknown.lines.first).prefix { $0 != " " }))
    }

    @Test func listRetryAndPurge() async throws {
        let cli = CLI(prefix: testNamespace())
        let client = cli.client()
        let keys = Keys(prefix: cli.prefix)
        let (failed, unknown) = try await makeDeadTasks(cli)

        let list = try await cli.run(["dead", "list", "--json"])
        #expect(list.status == 0, "\(list)")
        let dead = try list.json()
        #expect(Set(dead.compactMap { $0.string("id") }) == Set(failed + [unknown]))
        #expect(dead.first?.string("id") == unknown, "newest first")
        let entry = try #require(dead.first { $0.string("id") == unknown })
        #expect(entry.string("queue") == "other" && entry.string("name") == "no.such.task" && entry.string("died_at") != nil)
        #expect(entry["error"]?.string("type") == "UnknownTask")
        #expect(try await cli.run(["dead", "list", "--queue", "default", "--limit", "1", "--json"]).json().count == 1)
        let table = try await cli.run(["dead", "list"])
        #expect(table.lines.first?.hasPrefix("ID") == true && table.lines.count == 4)
        #expect(table.stdout.contains("Failure: boom"))

        let retry = try await cli.run(["dead", "retry", failed[0]])
        #expect(retry.status == 0 && retry.lines == ["requeued \(failed[0]) default"], "\(retry)")
        #expect(try await client.status(of: failed[0], queue: "default")?.state == .pending)
        #expect(try await client.redis.send("LRANGE", keys.pending("default", .normal), 0, -1).strings == [failed[0]])

        let notDead = try await cli.run(["dead", "retry", failed[0], "--json"])
        #expect(notDead.status == 1)
        #expect(try notDead.json().first?.bool("requeued") == false)

        let all = try await cli.run(["dead", "retry", "--all", "--queue", "other", "--json"])
        #expect(all.status == 0, "\(all)")
        #expect(try all.json().compactMap { $0.string("id") } == [unknown])
        #expect(try await client.status(of: unknown, queue: "other")?.state == .pending)

        let refused = try await cli.run(["dead", "purge"])
        #expect(refused.status == 2 && refused.stderr.contains("--yes"))
        #expect(try await client.redis.send("ZCARD", keys.dead("default")).int == 1, "nothing deleted without --yes")

        let purge = try await cli.run(["dead", "purge", "--yes", "--json"])
        #expect(purge.status == 0, "\(purge)")
        #expect(try purge.json().map { [$0.string("queue") ?? "", String(Int($0.number("deleted") ?? -1))] } == [["default", "1"], ["other", "0"]])
        #expect(try await client.redis.send("ZCARD", keys.dead("default")).int == 0)
        #expect(try await client.status(of: failed[1], queue: "default") == nil, "the record goes too")
        #expect(try await cli.run(["dead", "list"]).lines == ["no dead tasks"])
    }
}

@Suite struct PurgeCommandTests {
    @Test func deletesWaitingTasksOnlyWithYes() async throws {
        let cli = CLI(prefix: testNamespace())
        let client = cli.client()
        let keys = Keys(prefix: cli.prefix)
        let ids = try await cli.run(["enqueue", "t.a", "--count", "5", "--queue", "jobs"]).lines
            + cli.run(["enqueue", "t.a", "--delay", "1h", "--queue", "jobs", "--priority", "low"]).lines
        let other = try #require(try await cli.run(["enqueue", "t.a", "--queue", "kept"]).lines.first)
        #expect(ids.count == 6)

        let refused = try await cli.run(["purge", "jobs"])
        #expect(refused.status == 2 && refused.stdout.isEmpty)
        #expect(refused.stderr.contains("without --yes") && refused.stderr.contains("hint: kale purge jobs --yes"))
        #expect(try await client.redis.send("LLEN", keys.pending("jobs", .normal)).int == 5)

        let run = try await cli.run(["purge", "jobs", "--yes"])
        #expect(run.status == 0 && run.lines == ["deleted 6 waiting tasks from jobs"], "\(run)")
        for id in ids { #expect(try await client.status(of: id, queue: "jobs") == nil) }
        #expect(try await client.redis.send("ZCARD", keys.scheduled("jobs")).int == 0)
        #expect(try await client.status(of: other, queue: "kept")?.state == .pending, "other queues are untouched")

        let empty = try await cli.run(["purge", "jobs", "--yes", "--json"])
        #expect(try empty.json().first?.number("deleted") == 0)
    }
}

@Suite struct PingCommandTests {
    @Test func printsRoundTripAndServerVersion() async throws {
        let cli = CLI(prefix: testNamespace())
        let client = cli.client()
        let info = try await client.redis.send("INFO", "server").string ?? ""
        let version = try #require(info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("redis_version:") }?.dropFirst(14))
        let run = try await cli.run(["ping"])
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.hasPrefix("PONG from redis://") && run.stdout.contains("(Redis \(version), standalone)"))
        let json = try #require(try await cli.run(["ping", "--json"]).json().first)
        #expect(json.string("redis_version") == String(version))
        let rtt = try #require(json.number("rtt_ms"))
        #expect(rtt > 0 && rtt < 1000)
    }

    @Test func takesTheURLFromTheEnvironment() async throws {
        let cli = CLI(prefix: testNamespace())
        let run = try await cli.run(["ping"], globals: false, environment: ["KALE_REDIS_URL": cli.redisURL])
        #expect(run.status == 0 && run.stdout.contains("PONG"), "\(run)")
        // The flag wins over the environment.
        let flag = try await cli.run(["ping", "--redis", cli.redisURL], globals: false, environment: ["KALE_REDIS_URL": "redis://127.0.0.1:1"])
        #expect(flag.status == 0, "\(flag)")
    }
}
