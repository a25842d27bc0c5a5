import Foundation
import Glibc
import Kale
import KaleRedis

/// What one queue did with the same drain: `tasks` no-ops enqueued first, then one worker
/// started and timed from the first dequeue to the last end.
struct PeerResult {
    /// Tasks per second while enqueueing (Kale: enqueueBatch; Sidekiq: push_bulk; Celery:
    /// one send_task each).
    var enqueueRate: Double
    /// `used_memory` added per queued task.
    var bytesPerQueued: Double
    var drainRate: Double
    /// CPU of the worker's whole process tree per task, µs.
    var workerCPU: Double
    /// Redis' own CPU (`used_cpu_user` + `used_cpu_sys`) per task, µs.
    var redisCPU: Double
    /// Commands Redis ran per task, those inside scripts included (INFO commandstats).
    var commands: Double
}

/// `kale-bench peers`: Kale's default worker, Sidekiq and Celery through the same drain on one
/// private redis-server, one after the other, the server flushed between them.
struct PeerScenarios {
    let url: RedisURL
    let redis: RedisClient
    let root: String
    let logs: String
    let tasks: Int

    static let queue = "bench"

    func progress(_ text: String) { FileHandle.standardError.write(Data("… \(text)\n".utf8)) }

    /// Kale as a user gets it: `kale worker --concurrency 2` (process pool, default prefetch).
    func kale(run: Int) async throws -> PeerResult {
        progress("Kale, default worker, run \(run)")
        let keys = Keys(prefix: "peers")
        let client = KaleClient(configuration: KaleConfiguration(redis: RedisConfiguration(url: url, poolSize: 1), keys: keys))
        defer { client.close() }
        return try await measure(
            enqueue: {
                let start = ContinuousClock.now
                for _ in 0..<(tasks / 1000) {
                    _ = try await client.enqueueBatch(name: "kale.noop", args: Array(repeating: .null, count: 1000),
                                                      options: EnqueueOptions(queue: Self.queue))
                }
                return (ContinuousClock.now - start).seconds
            },
            worker: {
                try BenchProcess(executable: BenchWorker.executable,
                                 arguments: ["worker", "--redis", url.connectionString, "--prefix", "peers", "--queues", Self.queue,
                                             "--concurrency", "2", "--log-level", "warning"],
                                 log: "\(logs)/kale-\(run).log")
            },
            queued: { try await redis.send("LLEN", keys.pending(Self.queue, .normal)).int ?? 0 },
            done: {
                let r = try await redis.pipeline([RedisCommand("LLEN", keys.pending(Self.queue, .normal)),
                                                  RedisCommand("ZCARD", keys.active(Self.queue))])
                return r.allSatisfy { $0.int == 0 }
            })
    }

    /// Sidekiq 6 from Debian, `-c 5` (its default): no results kept, nothing acknowledged.
    func sidekiq(run: Int) async throws -> PeerResult {
        progress("Sidekiq -c 5, run \(run)")
        let script = root + "/Tests/peers/sidekiq_noop.rb"
        let environment = ProcessInfo.processInfo.environment.merging(["REDIS_URL": url.connectionString]) { $1 }
        let result = try await measure(
            enqueue: { try await timedScript("/usr/bin/ruby", [script, "push", String(tasks)], environment, log: "\(logs)/sidekiq-push-\(run).log") },
            worker: {
                try BenchProcess(executable: "/usr/bin/sidekiq", arguments: ["-r", script, "-c", "5"], environment: environment,
                                 log: "\(logs)/sidekiq-\(run).log")
            },
            queued: { try await redis.send("LLEN", "queue:default").int ?? 0 },
            // A no-op is over within microseconds of leaving the list: the five in flight when
            // it empties add nothing measurable.
            done: { try await redis.send("LLEN", "queue:default").int == 0 })
        return result
    }

    /// Celery 5 from PyPI (.venv-test), its prefork pool with 2 children, results in Redis.
    func celery(run: Int) async throws -> PeerResult {
        progress("Celery prefork -c 2, run \(run)")
        let python = root + "/.venv-test/bin/python"
        let environment = ProcessInfo.processInfo.environment.merging(["KALE_TEST_REDIS_URL": url.connectionString]) { $1 }
        var baseKeys = 0
        return try await measure(
            enqueue: {
                let seconds = try await timedScript(python, [root + "/Tests/peers/celery_push.py", String(tasks), Self.queue], environment,
                                                    log: "\(logs)/celery-push-\(run).log")
                baseKeys = try await redis.send("DBSIZE").int ?? 0
                return seconds
            },
            worker: {
                try BenchProcess(executable: python,
                                 arguments: ["-m", "celery", "-A", "app", "worker", "-Q", Self.queue, "--concurrency", "2", "--pool", "prefork",
                                             "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
                                 environment: environment, directory: root + "/Tests/celery", log: "\(logs)/celery-\(run).log")
            },
            queued: { try await redis.send("LLEN", Self.queue).int ?? 0 },
            // Every result is a key of its own (celery-task-meta-<id>); the emptied queue's
            // list is gone by then (the one key fewer). Celery acks a message as it takes it,
            // so its unacked keys tell nothing about the tasks still running.
            done: {
                let r = try await redis.pipeline([RedisCommand("LLEN", Self.queue), RedisCommand("DBSIZE")])
                return r[0].int == 0 && (r[1].int ?? 0) >= baseKeys - 1 + tasks
            })
    }

    /// The one procedure of every peer: flush, enqueue (timed, memory read before and after),
    /// start the worker, and between its first dequeue and the end read the worker's CPU,
    /// Redis' CPU and its command counts.
    private func measure(enqueue: () async throws -> Double, worker: () throws -> BenchProcess,
                         queued: () async throws -> Int, done: () async throws -> Bool) async throws -> PeerResult {
        _ = try await redis.send("FLUSHALL")
        let memoryBefore = try await usedMemory()
        let enqueueSeconds = try await enqueue()
        let bytes = Double(try await usedMemory() - memoryBefore) / Double(tasks)
        guard try await queued() == tasks else { throw BenchError("the peer did not queue \(tasks) tasks") }
        let process = try worker()
        return try await stopping(process) {
            let deadline = ContinuousClock.now + .seconds(600)
            while try await queued() == tasks {
                guard ContinuousClock.now < deadline, process.process.isRunning else { throw BenchError("the worker took nothing: \(process.logTail())") }
                try await Task.sleep(for: .milliseconds(1))
            }
            let start = ContinuousClock.now
            let (cpuBefore, redisBefore, callsBefore) = (treeCPU(process.pid), try await redisCPU(), try await commandCalls())
            while !(try await done()) {
                guard ContinuousClock.now < deadline, process.process.isRunning else { throw BenchError("the drain did not end: \(process.logTail())") }
                try await Task.sleep(for: .milliseconds(1))
            }
            let seconds = (ContinuousClock.now - start).seconds
            let (cpuAfter, redisAfter, callsAfter) = (treeCPU(process.pid), try await redisCPU(), try await commandCalls())
            let n = Double(tasks)
            return PeerResult(enqueueRate: n / enqueueSeconds, bytesPerQueued: bytes, drainRate: n / seconds,
                              workerCPU: (cpuAfter - cpuBefore) * 1e6 / n, redisCPU: (redisAfter - redisBefore) * 1e6 / n,
                              commands: Double(callsAfter - callsBefore) / n)
        }
    }

    /// Runs a peer's enqueue script to its end; it prints the seconds it spent enqueueing.
    private func timedScript(_ executable: String, _ arguments: [String], _ environment: [String: String], log: String) async throws -> Double {
        let output = log + ".out"
        let script = try BenchProcess(executable: executable, arguments: arguments, environment: environment, log: log, output: output)
        guard await script.waitForExit(.seconds(600)), script.process.terminationStatus == 0 else {
            throw BenchError("\(arguments[0]) failed: \(script.logTail())")
        }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard let seconds = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)), seconds > 0 else {
            throw BenchError("\(arguments[0]) printed no time: \(text.prefix(200))")
        }
        return seconds
    }

    private func usedMemory() async throws -> Int {
        Int(try await info("memory", "used_memory") ?? "") ?? 0
    }

    /// Seconds of CPU Redis has used, user and system.
    private func redisCPU() async throws -> Double {
        (Double(try await info("cpu", "used_cpu_user") ?? "") ?? 0) + (Double(try await info("cpu", "used_cpu_sys") ?? "") ?? 0)
    }

    private func info(_ section: String, _ field: String) async throws -> String? {
        let text = try await redis.send("INFO", section).string ?? ""
        return text.split(whereSeparator: \.isNewline).first { $0.hasPrefix(field + ":") }.map { String($0.dropFirst(field.count + 1)) }
    }

    /// Every command Redis has run so far, those inside scripts included.
    private func commandCalls() async throws -> Int { try await commandCallCounts(redis).values.reduce(0, +) }
}

/// CPU seconds (user + system) of `pid` and every live descendant, from /proc.
func treeCPU(_ pid: Int32) -> Double { ([pid] + descendants(of: pid)).map(cpuSeconds).reduce(0, +) }
