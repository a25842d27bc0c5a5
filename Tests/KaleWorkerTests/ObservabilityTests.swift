import Foundation
import Glibc
import Kale
import KaleRedis
import KaleTestSupport
import Testing

/// The worker's Prometheus endpoint, the per-minute history and the event stream, against a
/// real `kale worker` and a real Redis; the exposition is parsed by prometheus_client.
@Suite(.serialized) struct ObservabilityTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The samples of a scrape, parsed by prometheus_client (Tests/observability/metrics.py).
    static func scrape(_ url: String) throws -> [JSONValue] {
        let python = root.appendingPathComponent(".venv-test/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "no \(python): ./scripts/test.sh creates it")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [root.appendingPathComponent("Tests/observability/metrics.py").path, url]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "metrics.py \(url) failed")
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map { try JSONValue(parsing: Data($0.utf8)) }
    }

    static func value(_ samples: [JSONValue], _ name: String, _ labels: [String: String]) -> Double? {
        samples.first { s in
            s["name"]?.stringValue == name && labels.allSatisfy { s["labels"]?[$0.key]?.stringValue == $0.value }
        }?["value"]?.doubleValue
    }

    /// The URL the worker logged for its metrics endpoint (it binds port 0: no race for a port).
    static func metricsURL(_ worker: WorkerDaemon) async throws -> String {
        var url: String?
        _ = await waitUntil(timeout: .seconds(20)) {
            guard let line = worker.log.split(separator: "\n").first(where: { $0.contains("serving metrics") }).map(String.init),
                  let start = line.range(of: "http://") else { return false }
            url = String(line[start.lowerBound...].prefix { !$0.isWhitespace })
            return url != nil
        }
        return try #require(url, "the worker logged its metrics URL; log: \(worker.log)")
    }

    @Test func metricsCountTasksByOutcomeAfterSuccessesFailuresAndACrash() async throws {
        let f = KaleFixture()
        let worker = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--diagnostics", "--metrics-port", "0"])
        defer { worker.signal(SIGKILL) }
        try await worker.waitUntilReady(f)
        let url = try await Self.metricsURL(worker)
        var ids: [String] = []
        for _ in 0..<10 { ids.append(try await f.client.enqueue(name: "kale.noop", args: .null).id) }
        var fast = EnqueueOptions()
        fast.maxRetries = 1
        fast.backoff = .fixed(.milliseconds(10))
        for i in 0..<3 { ids.append(try await f.client.enqueue(name: "kale.fail", args: .object(["message": .string("boom \(i)")]), options: fast).id) }
        var once = EnqueueOptions()
        once.maxRetries = 0
        ids.append(try await f.client.enqueue(name: "kale.crash", args: .object(["how": "abort"]), options: once).id)
        for id in ids { _ = try await f.client.wait(for: id, timeout: .seconds(60)) }

        let samples = try Self.scrape(url)
        func v(_ name: String, _ labels: [String: String]) -> Double? { Self.value(samples, name, labels) }
        #expect(v("kale_tasks_total", ["task": "kale.noop", "outcome": "succeeded"]) == 10)
        #expect(v("kale_tasks_total", ["task": "kale.fail", "outcome": "retrying"]) == 3)
        #expect(v("kale_tasks_total", ["task": "kale.fail", "outcome": "dead"]) == 3)
        #expect(v("kale_tasks_total", ["task": "kale.crash", "outcome": "dead"]) == 1)
        #expect(v("kale_task_retries_total", ["task": "kale.fail"]) == 3)
        #expect((v("kale_child_restarts_total", ["cause": "crashed"]) ?? 0) >= 1)
        #expect(v("kale_children", ["state": "busy"]) != nil)
        #expect((v("kale_resident_memory_bytes", ["process": "supervisor"]) ?? 0) > 1_000_000)
        // Histograms: +Inf == count == runs, buckets never decrease; wait counts first attempts.
        for (task, runs) in [("kale.noop", 10.0), ("kale.fail", 6.0), ("kale.crash", 1.0)] {
            let buckets = samples.filter { $0["name"]?.stringValue == "kale_task_run_seconds_bucket" && $0["labels"]?["task"]?.stringValue == task }
            let values = buckets.compactMap { $0["value"]?.doubleValue }
            #expect(values == values.sorted(), "\(task) buckets are cumulative")
            #expect(v("kale_task_run_seconds_bucket", ["task": task, "le": "+Inf"]) == runs)
            #expect(v("kale_task_run_seconds_count", ["task": task]) == runs)
        }
        #expect(v("kale_task_wait_seconds_count", ["queue": "default"]) == 14)
        // Bounded labels: no value is a task id.
        let uuid = try Regex("[0-9a-f]{8}-[0-9a-f]{4}-")
        for s in samples {
            for (_, label) in s["labels"]?.objectValue ?? [:] {
                #expect(label.stringValue.map { $0.contains(uuid) } != true, "label value \(label) looks like an id")
            }
        }
        #expect(try await f.auditQueue("default", ids: ids).isEmpty)
    }

    @Test func historyAndEventsRecordEveryTransition() async throws {
        let f = KaleFixture { $0.recordAllEvents = true }
        let worker = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--diagnostics"],
                                      environment: ["KALE_EVENTS": "all"])
        defer { worker.signal(SIGKILL) }
        try await worker.waitUntilReady(f)
        let refs = try await f.client.enqueueBatch(name: "kale.noop", args: Array(repeating: .null, count: 20))
        var fast = EnqueueOptions()
        fast.maxRetries = 1
        fast.backoff = .fixed(.milliseconds(10))
        let failing = try await f.client.enqueue(name: "kale.fail", args: .object(["message": "history"]), options: fast)
        var ids = refs.map(\.id) + [failing.id]
        for id in ids { _ = try await f.client.wait(for: id, timeout: .seconds(60)) }
        var later = EnqueueOptions()
        later.delay = .seconds(3600)
        let delayed = try await f.client.enqueue(name: "kale.noop", args: .null, options: later)
        ids.append(delayed.id)
        #expect(try await f.client.cancel(id: delayed.id) == "cancelled")

        let history = try #require(try await f.client.history(of: ["default"], last: .seconds(600)).first)
        #expect(history.total("enqueued", last: .seconds(600)) == 22)
        #expect(history.total("succeeded", last: .seconds(600)) == 20)
        #expect(history.total("retried", last: .seconds(600)) == 1)
        #expect(history.total("dead", last: .seconds(600)) == 1)
        #expect(history.total("cancelled", last: .seconds(600)) == 1)
        let runs = history.minutes.reduce(0) { $0 + $1.run.reduce(0, +) }
        let waits = history.minutes.reduce(0) { $0 + $1.wait.reduce(0, +) }
        #expect(runs == 22, "20 successes and both runs of the failing task are timed")
        #expect(waits == 21, "first attempts only")
        #expect(history.percentile(0.5, of: .run, last: .seconds(600)) != nil)
        // A minute hash expires: Redis keeps 25 h of history and no more.
        let minute = f.keys.history("default", minute: Broker.now() / 60_000)
        let ttl = try await f.redis.send("PTTL", minute).int ?? -1
        #expect(ttl > 0 && ttl <= 90_000_000)

        let events = try await f.client.events(for: failing.id, queue: "default")
        #expect(events.map(\.kind) == ["enqueued", "started", "retried", "started", "dead"], "\(events.map { "\($0.id) \($0.kind) \($0.attempt ?? -1)" })")
        #expect(events.last?.detail == "Failure")
        #expect(events.allSatisfy { $0.name == "kale.fail" })
        let recent = try await f.client.events(queues: ["default"], last: 500)
        #expect(recent.contains { $0.kind == "enqueued" && $0.count == 20 }, "a batch is one enqueued event with its count")
        #expect(recent.contains { $0.kind == "worker_online" })
        #expect(recent.filter { $0.kind == "succeeded" }.count == 20)
        // Each run starts once in the stream, whether its start shared an entry with the
        // runner's previous end, or its start mark reached Redis after the run's end.
        let noops = Set(refs.map(\.id))
        let starts = recent.filter { $0.kind == "started" && noops.contains($0.taskID ?? "") }
        #expect(starts.count == 20 && Set(starts.compactMap(\.taskID)) == noops, "\(starts.count) starts")
        #expect(try await f.auditQueue("default", ids: ids).isEmpty)
    }

    @Test func historyAndEventsCanBeSwitchedOff() async throws {
        let f = KaleFixture()
        var quiet = f.configuration
        quiet.history = false
        quiet.eventStreamLength = 0
        let client = KaleClient(configuration: quiet)
        let worker = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--diagnostics"],
                                      environment: ["KALE_HISTORY": "off", "KALE_EVENTS": "off"])
        defer { worker.signal(SIGKILL) }
        try await worker.waitUntilReady(f)
        let refs = try await client.enqueueBatch(name: "kale.noop", args: Array(repeating: .null, count: 5))
        let one = try await client.enqueue(name: "kale.noop", args: .null)
        let ids = refs.map(\.id) + [one.id]
        for id in ids { _ = try await client.wait(for: id, timeout: .seconds(60)) }
        #expect(try await f.redis.send("EXISTS", f.keys.events("default"), f.keys.workerEvents,
                                       f.keys.history("default", minute: Broker.now() / 60_000)).int == 0)
        #expect(try await f.auditQueue("default", ids: ids).isEmpty)
    }

    @Test func aWatchedQueuesWorkerWritesEverySuccess() async throws {
        let f = KaleFixture()
        let worker = try WorkerDaemon(url: f.server.url, prefix: f.keys.prefix, arguments: ["--diagnostics"])
        defer { worker.signal(SIGKILL) }
        try await worker.waitUntilReady(f)
        let before = try await f.client.enqueue(name: "kale.noop", args: .null)
        _ = try await f.client.wait(for: before.id, timeout: .seconds(30))
        #expect(try await f.client.events(for: before.id, queue: "default").isEmpty, "unwatched: no frequent events")
        // What `kale events --follow` and the dashboard's live view do while they run.
        let follower = Task { for try await _ in f.client.followEvents(queues: ["default"]) {} }
        defer { follower.cancel() }
        // The worker asks every 2 s.
        try await Task.sleep(for: .milliseconds(2500))
        let after = try await f.client.enqueue(name: "kale.noop", args: .null)
        _ = try await f.client.wait(for: after.id, timeout: .seconds(30))
        let kinds = try await f.client.events(for: after.id, queue: "default").map(\.kind)
        #expect(kinds.suffix(2) == ["started", "succeeded"], "\(kinds)")
        #expect(try await f.auditQueue("default", ids: [before.id, after.id]).isEmpty)
    }
}
