import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// The three ACL roles of `kale acl`, end to end: a real redis-server loads the rules the
/// real `kale` printed, and real `kale` processes (a worker, producers, the dashboard) do
/// their jobs as those users. What a role may not do is refused with one line naming the
/// rule, and changes nothing.
@Suite struct ACLRoleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `deploy/redis-acl.conf` names this build's scripts: a script that changed without the
    /// file being generated again fails here.
    @Test func committedACLFileIsWhatThisBuildPrints() async throws {
        let run = try await CLI(prefix: "kale").run(["acl", "all"], globals: false)
        #expect(run.status == 0, "\(run)")
        let committed = try String(contentsOf: Self.root.appendingPathComponent("deploy/redis-acl.conf"), encoding: .utf8)
        #expect(run.stdout == committed, "deploy/redis-acl.conf is stale: run `kale acl all > deploy/redis-acl.conf`")
        #expect(run.stdout.hasPrefix("user default reset off\n"), "without it Redis lets anyone in as the default user")
    }

    @Test func badArgumentsAreRefusedInOneLineWithAHint() async throws {
        let cli = CLI(prefix: "kale")
        let cases: [([String], [String: String], String)] = [
            (["acl", "owner"], [:], "unknown role 'owner'"),
            (["acl"], [:], "<role>"),
            (["acl", "all", "--user", "w"], [:], "--user names one user"),
            (["acl", "worker", "--prefix", "a b"], [:], "--prefix must be"),
            (["acl", "worker", "--user", "a b"], [:], "not an ACL user name"),
            (["acl", "worker", "--db", "-1"], [:], "--db"),
            (["acl", "all"], [ACLDeployment.passwordVariable: "s"], "one user's password"),
            (["acl", "worker"], [ACLDeployment.passwordVariable: ""], "is empty"),
        ]
        for (arguments, environment, fragment) in cases {
            let run = try await cli.run(arguments, globals: false, environment: environment)
            let lines = run.stderr.split(separator: "\n")
            #expect(run.status == 2 && run.stdout.isEmpty, "kale \(arguments): \(run)")
            #expect(lines.count == 2 && lines[0].hasPrefix("kale: error: ") && lines[0].contains(fragment) && lines[1].hasPrefix("hint: "),
                    "kale \(arguments): \(run)")
        }
    }

    /// The password is never a flag (`ps` shows flags): it comes from the environment and
    /// only its SHA-256 is printed.
    @Test func passwordComesFromTheEnvironmentAsItsSHA256() async throws {
        let cli = CLI(prefix: "kale")
        let run = try await cli.run(["acl", "worker", "--user", "w1"], globals: false, environment: [ACLDeployment.passwordVariable: "s3cret"])
        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("user w1 reset on #1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0 resetchannels "))
        #expect(!run.stdout.contains("s3cret") && !run.stderr.contains("s3cret"))
        let bare = try await cli.run(["acl", "worker"], globals: false)
        #expect(bare.stdout.hasPrefix("user kale-worker reset on resetchannels "), "no password: the user cannot log in yet")
        #expect(bare.stderr.contains(ACLDeployment.passwordVariable))
    }

    /// Everything each role is for, with nothing refused anywhere (`ACL LOG` stays empty):
    /// not a command a worker's background loop sends, not a call inside a script.
    @Test func eachRoleDoesItsJobWithNothingRefused() async throws {
        let d = try await ACLDeployment()
        defer { d.stop() }
        let q = "jobs"
        // A limit and a schedule (the admin's to set) put the worker's limit and schedule
        // scripts to work too.
        #expect(try await d.cli.run(["limits", "set", "kale.echo", "--concurrency", "2"]).status == 0)
        #expect(try await d.cli.run(["schedule", "add", "tick", "--task", "kale.noop", "--every", "1s", "--queue", q]).status == 0)
        let worker = try d.spawn(.worker, ["worker", "--queues", q, "--concurrency", "2", "--lease", "3s", "--grace", "5s", "--log-level", "warning"])

        let one = try await d.run(.producer, ["enqueue", "kale.echo", "--args", #"{"n":1}"#, "--queue", q, "--wait", "--timeout", "30s", "--json"])
        #expect(one.status == 0, "\(one)")
        #expect(try one.json().first?.string("state") == "succeeded", "\(one)")
        let batch = try await d.run(.producer, ["enqueue", "kale.echo", "--count", "5", "--queue", q, "--wait", "--timeout", "30s"])
        #expect(batch.status == 0 && batch.lines.count == 5 && batch.lines.allSatisfy { $0.contains(" succeeded ") }, "\(batch)")
        let named = try await d.run(.producer, ["enqueue", "kale.echo", "--id", "acl:1", "--queue", q, "--wait", "--timeout", "30s"])
        #expect(named.status == 0 && named.stdout.hasPrefix("acl:1 succeeded"), "\(named)")
        let unique = try await d.run(.producer, ["enqueue", "kale.noop", "--unique", "u1", "--delay", "1s", "--queue", q, "--wait", "--timeout", "30s"])
        #expect(unique.status == 0 && unique.stdout.contains(" succeeded"), "a delayed task, promoted by the worker: \(unique)")
        let count = try await d.run(.producer, ["enqueue", "kale.count", "--args", #"{"key":"\#(d.prefix):counts","reports":2}"#,
                                                "--queue", q, "--wait", "--timeout", "30s"])
        #expect(count.status == 0 && count.stdout.hasSuffix(" succeeded 1\n"), "kale.count in a child of the worker: \(count)")
        let failed = try await d.run(.producer, ["enqueue", "kale.fail", "--retries", "1", "--queue", q, "--wait", "--timeout", "30s"])
        #expect(failed.status == 1 && failed.stdout.contains(" dead "), "retried once, then dead: \(failed)")
        for lookup in [["result", "acl:1"], ["result", "acl:1", "--queue", q]] {
            let run = try await d.run(.producer, lookup)
            #expect(run.status == 0 && run.stdout.contains("succeeded"), "kale \(lookup) as the producer: \(run)")
        }
        // A producer in code awaits its result (SUBSCRIBE on its done channel) the same way.
        let client = d.client(.producer)
        let ref = try await client.enqueue(name: "kale.echo", args: .object(["x": .number(2)]), options: EnqueueOptions(queue: q))
        #expect(try await client.wait(for: ref.id, queue: q, timeout: .seconds(30)).state == .succeeded)

        for reading in [["inspect"], ["inspect", "queues", "--json"], ["inspect", "workers"], ["inspect", "task", "acl:1"], ["events"],
                        ["dead", "list"], ["result", "acl:1"], ["limits", "list"], ["schedule", "list"]] {
            let run = try await d.run(.dashboard, reading)
            #expect(run.status == 0 && run.stderr.isEmpty, "kale \(reading) as the dashboard: \(run)")
        }
        // Following the events marks the queue watched: the dashboard's one write.
        let admin = d.client()
        let watch = Keys(prefix: d.prefix).eventWatch(q)
        let follow = try d.spawn(.dashboard, ["events", "--follow", "--queue", q])
        #expect(await waitUntil(timeout: .seconds(10)) { (try? await admin.redis.send("EXISTS", watch).int) == 1 })
        follow.signal(SIGINT)
        #expect(try await follow.wait().stderr.isEmpty)

        // A workflow (the admin's to submit) is carried on by the worker from step to step.
        let flow = #"{"chain":[{"task":"kale.echo","queue":"jobs","args":{"x":1}},{"group":[{"task":"kale.noop","queue":"jobs"},{"task":"kale.noop","queue":"jobs"}]}]}"#
        let submitted = try await d.cli.run(["workflow", "submit", "-", "--wait", "--timeout", "30s"], stdin: flow)
        #expect(submitted.status == 0 && submitted.stdout.contains(" succeeded "), "\(submitted)")

        let fired = Keys(prefix: d.prefix).scheduleState(q, "tick")
        let firedOnce = await waitUntil(timeout: .seconds(10)) {
            let n = try? await admin.redis.send("HGET", fired, "fired").int
            return (n ?? 0) >= 1
        }
        #expect(firedOnce, "the worker leads and fires the schedule")
        // The reaper: a worker killed mid-task, another one takes the task back once the
        // lease has lapsed and runs it again.
        let long = try await client.enqueue(name: "kale.sleep", args: .object(["ms": .number(1500)]), options: EnqueueOptions(queue: q))
        let running = Keys(prefix: d.prefix).task(q, long.id)
        // `run` is written when the child starts it (a task leased but not yet started is
        // given back uncounted).
        #expect(await waitUntil(timeout: .seconds(10)) { (try? await admin.redis.send("HEXISTS", running, "run").int) == 1 })
        worker.signal(SIGKILL)
        _ = try await worker.wait()
        let second = try d.spawn(.worker, ["worker", "--queues", q, "--concurrency", "1", "--lease", "3s", "--grace", "5s", "--log-level", "warning"])
        #expect(try await client.wait(for: long.id, queue: q, timeout: .seconds(30)).state == .succeeded)
        #expect((try await admin.status(of: long.id, queue: q))?.attempt == 2, "run again after the reap")
        let stopped = try await second.stop(timeout: .seconds(20))
        #expect(stopped.status == 0, "\(stopped)")
        #expect(!stopped.stderr.contains("NOPERM") && !stopped.stderr.contains("may not"), "\(stopped)")
        #expect(try await d.refusals() == [], "Redis refused something a role needs")
    }

    /// `kale dashboard --read-only` (kale-full) serves its pages and live view as the
    /// dashboard role.
    ///
    /// Needs the kale-full binary, which the core stage of scripts/test.sh does not build
    /// (the core bundle must not wait for Hummingbird): scripts/test-dashboard.sh runs it,
    /// after building kale-full, with `KALE_TEST_WITH_DASHBOARD=1`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["KALE_TEST_WITH_DASHBOARD"] == "1",
                   "needs kale-full; run by scripts/test-dashboard.sh"))
    func webDashboardServesEveryPageAsTheDashboardRole() async throws {
        let d = try await ACLDeployment()
        defer { d.stop() }
        let q = "web"
        let ref = try await d.client(.producer).enqueue(name: "kale.echo", args: .null, options: EnqueueOptions(queue: q))
        let port = try RedisServer.freePort()
        let dashboard = try d.spawn(.dashboard, ["dashboard", "--read-only", "--port", String(port)])
        defer { dashboard.signal(SIGTERM) }
        let base = "http://127.0.0.1:\(port)"
        #expect(try await Self.get(base + "/healthz", waiting: true) == "200", "\(dashboard.stderr)")
        for path in ["/", "/api/overview", "/queues/\(q)", "/api/queues/\(q)/tasks", "/tasks/\(ref.id)", "/api/tasks/\(ref.id)",
                     "/workers", "/api/workers", "/dead", "/api/dead", "/api/events", "/metrics", "/fragments/history"] {
            #expect(try await Self.get(base + path) == "200", "GET \(path)")
        }
        // The live view marks the queues it shows watched while a tab is open.
        _ = try await Self.get(base + "/live", maxTime: 3)
        #expect(try await d.client().redis.send("EXISTS", Keys(prefix: d.prefix).eventWatch(q)).int == 1)
        #expect(try await d.refusals() == [], "the dashboard needed something its role lacks")
    }

    /// A producer may not lease, delete or purge: each is refused with one line naming the
    /// user and the rule, and the task stays as it was.
    @Test func producerMayNotLeaseDeleteOrPurge() async throws {
        let d = try await ACLDeployment()
        defer { d.stop() }
        let q = "guarded"
        let keys = Keys(prefix: d.prefix)
        let producer = d.client(.producer)
        let ref = try await producer.enqueue(name: "kale.echo", args: .null, options: EnqueueOptions(queue: q))
        let fetchSHA = try #require(AccessRole.worker.allowedScripts.first { $0.name == "fetch" }).sha1

        let lease = producer.broker.fetch(queue: q, worker: "thief", lease: "1", count: 10, leaseDeadline: Broker.now() + 60_000, now: Broker.now())
        let leaseError = await Self.permissionError { try await producer.redis.send(lease) }
        #expect(leaseError.contains("the Redis user 'kale-producer' may not run the script 'fetch'") && leaseError.contains("`+evalsha|\(fetchSHA)`"),
                "\(leaseError)")
        let deleteError = await Self.permissionError { try await producer.redis.send("DEL", keys.task(q, ref.id)) }
        #expect(deleteError.contains("'kale-producer' may not run DEL") && deleteError.contains("`+del`"), "\(deleteError)")

        for purge in [["purge", q, "--yes"], ["dead", "purge", "--yes"], ["cancel", ref.id, "--queue", q]] {
            let run = try await d.run(.producer, purge)
            let lines = run.stderr.split(separator: "\n")
            #expect(run.status == 1, "kale \(purge) as the producer: \(run)")
            #expect(lines.count == 2 && lines[0].hasPrefix("kale: error: the Redis user 'kale-producer' may not run the script '")
                    && lines[0].contains("`+evalsha|") && lines[1].hasPrefix("hint: "), "kale \(purge): \(run)")
        }
        let admin = d.client()
        #expect(try await admin.redis.send("LRANGE", keys.pending(q, .normal), 0, -1).strings == [ref.id], "still pending")
        #expect(try await admin.redis.send("ZCARD", keys.active(q)).int == 0, "leased to nobody")
        #expect(try await admin.status(of: ref.id, queue: q)?.state == .pending)
    }

    /// A worker whose user lacks what a worker needs stops at start with the first missing
    /// rule, instead of retrying a refused fetch for ever; it leases nothing.
    @Test func workerUnderTheProducerRoleExitsAtOnceNamingTheRule() async throws {
        let d = try await ACLDeployment()
        defer { d.stop() }
        let q = "wrong-user"
        let ref = try await d.client(.producer).enqueue(name: "kale.echo", args: .null, options: EnqueueOptions(queue: q))
        let fetchSHA = try #require(AccessRole.worker.allowedScripts.first { $0.name == "fetch" }).sha1
        let start = ContinuousClock.now
        let run = try await d.run(.producer, ["worker", "--queues", q, "--concurrency", "1"], timeout: .seconds(20))
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(run.status != 0, "\(run)")
        let line = run.stderr.split(separator: "\n").first { $0.hasPrefix("kale: error: ") } ?? ""
        #expect(line.contains("the Redis user 'kale-producer' may not run the script 'fetch'") && line.contains("`+evalsha|\(fetchSHA)`")
                && line.contains("`kale acl worker`"), "\(run)")
        #expect(try await d.client().status(of: ref.id, queue: q)?.state == .pending)
    }

    /// The producer may load the scripts it may run: after SCRIPT FLUSH (as after a restart or
    /// failover) its enqueue loads the script again and goes through.
    @Test func producerReloadsItsScriptAfterAFlush() async throws {
        let d = try await ACLDeployment()
        defer { d.stop() }
        #expect(try await d.client().redis.send("SCRIPT", "FLUSH").string == "OK")
        let run = try await d.run(.producer, ["enqueue", "kale.echo", "--id", "after-flush", "--queue", "reload"])
        #expect(run.status == 0 && run.stdout == "after-flush\n", "\(run)")
        #expect(try await d.refusals() == [])
    }

    /// The dashboard writes nothing but the watch mark.
    @Test func dashboardMayNotWrite() async throws {
        let d = try await ACLDeployment()
        defer { d.stop() }
        let q = "readonly"
        let keys = Keys(prefix: d.prefix)
        let ref = try await d.client(.producer).enqueue(name: "kale.echo", args: .null, options: EnqueueOptions(queue: q))
        let admin = d.client()
        let record = keys.task(q, ref.id)
        func snapshot() async throws -> [String] {
            (try await admin.redis.send("KEYS", "\(d.prefix):*").strings ?? []).sorted()
                + (try await admin.redis.send("HGETALL", record).strings ?? [])
        }
        let before = try await snapshot()
        for write in [["enqueue", "kale.echo", "--queue", q], ["enqueue", "kale.echo", "--id", "x", "--queue", q],
                      ["purge", q, "--yes"], ["queue", "pause", q], ["cancel", ref.id, "--queue", q]] {
            let run = try await d.run(.dashboard, write)
            let lines = run.stderr.split(separator: "\n")
            #expect(run.status == 1 && lines.count == 2 && lines[0].hasPrefix("kale: error: the Redis user 'kale-dashboard' may not "),
                    "kale \(write) as the dashboard: \(run)")
        }
        let dashboard = d.client(.dashboard)
        let overwrite = await Self.permissionError { try await dashboard.redis.send("HSET", record, "state", "succeeded") }
        #expect(overwrite.contains("'kale-dashboard' may not run HSET") && overwrite.contains("`+hset`"), "\(overwrite)")
        // SET it may run, on the watch mark only: any other key is refused by name.
        let replace = await Self.permissionError { try await dashboard.redis.send("SET", record, "x") }
        #expect(replace.contains("'kale-dashboard' may not access key '\(record)' with SET"), "\(replace)")
        #expect(try await snapshot() == before, "the refused writes changed nothing")
    }

    /// The detail of the `.permission` RedisError `body` throws; "" (and an issue) otherwise.
    static func permissionError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> String {
        do {
            try await body()
            Issue.record("expected a refusal", sourceLocation: sourceLocation)
        } catch let error as RedisError {
            #expect(error.code == .permission, "\(error)", sourceLocation: sourceLocation)
            #expect(!error.detail.contains("\n"), sourceLocation: sourceLocation)
            return error.detail
        } catch {
            Issue.record("expected a RedisError, got \(error)", sourceLocation: sourceLocation)
        }
        return ""
    }

    /// The HTTP status curl got for `url` ("000" for none), waiting for a server that is
    /// still starting when `waiting`; `maxTime` ends a response that streams.
    static func get(_ url: String, waiting: Bool = false, maxTime: Int = 10) async throws -> String {
        for _ in 0..<(waiting ? 500 : 1) {
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            curl.arguments = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", String(maxTime), url]
            let out = Pipe()
            curl.standardOutput = out
            try curl.run()
            let code = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            curl.waitUntilExit()
            // 7: nothing listens yet.
            guard curl.terminationStatus == 7 else { return code }
            try await Task.sleep(for: .milliseconds(20))
        }
        return "000"
    }
}
