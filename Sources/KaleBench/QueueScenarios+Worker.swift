import Foundation
import Glibc
import Kale
import KaleRedis

/// A worker daemon for the scenarios: this very executable in worker mode
/// (`kale-bench worker …` runs the `kale worker` command with the diagnostic tasks).
final class BenchWorker {
    let process = Process()

    /// This executable's path, which `worker` makes a worker daemon.
    static let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]

    init(url: RedisURL, prefix: String, concurrency: Int, prefetch: Int?, pool: String, arguments extra: [String] = [],
         environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: Self.executable)
        var args = ["worker", "--redis", url.connectionString, "--prefix", prefix, "--queues", "bench",
                    "--concurrency", String(concurrency), "--pool", pool, "--log-level", "warning"]
        if let prefetch { args += ["--prefetch", String(prefetch)] }
        process.arguments = args + extra
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Waits until the worker's heartbeat is in Redis (its pool is up by then).
    func waitUntilReady(_ client: KaleClient) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            for id in try await client.redis.send("ZRANGE", client.configuration.keys.workers, 0, -1).strings ?? [] {
                if try await client.redis.send("HGET", client.configuration.keys.worker(id), "pid").string == String(pid) { return }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchError("worker \(pid) did not register within 60 s")
    }

    /// Resident memory of the supervisor and of each child, in bytes.
    func memory() -> (supervisor: Int, children: [Int]) {
        (rss(pid), childPids(of: pid).map(rss))
    }

    /// Proportional set size of the supervisor plus its children, in bytes: shared library
    /// pages (most of a Swift process's RSS) counted once across the processes sharing them.
    func proportionalMemory() -> Int {
        ([pid] + childPids(of: pid)).map(pss).reduce(0, +)
    }

    func stop() {
        kill(pid, SIGTERM)
        process.waitUntilExit()
    }

    deinit { if process.isRunning { kill(pid, SIGKILL) } }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Resident set size of a process, from /proc/PID/statm.
func rss(_ pid: Int32) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
}

/// Proportional set size of a process, from /proc/PID/smaps_rollup.
func pss(_ pid: Int32) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8),
          let line = text.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("Pss:") }) else { return 0 }
    return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
}

/// Pids whose parent is `pid`, from /proc/*/stat.
func childPids(of pid: Int32) -> [Int32] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { name -> Int32? in
        guard let p = Int32(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        return rest.count > 1 && Int32(rest[1]) == pid ? p : nil
    }
}

extension QueueScenarios {
    /// Total calls of every command so far (INFO commandstats).
    func commandCalls(_ client: KaleClient) async throws -> [String: Int] { try await commandCallCounts(client.redis) }

    /// Time from the first start to the last finish among `ids`, from their records.
    func span(_ client: KaleClient, ids: [String], queue: String = "bench") async throws -> Duration {
        let (first, last) = try await runBounds(client, ids: ids, queue: queue)
        return .milliseconds(last - first)
    }

    /// The first start and the last finish (ms since 1970) among `ids`, which must all have succeeded.
    func runBounds(_ client: KaleClient, ids: [String], queue: String = "bench") async throws -> (first: Int64, last: Int64) {
        var first = Int64.max, last = Int64.min
        for chunk in stride(from: 0, to: ids.count, by: 1000) {
            let part = ids[chunk..<min(chunk + 1000, ids.count)]
            let replies = try await client.redis.pipeline(part.map {
                RedisCommand("HMGET", client.configuration.keys.task(queue, $0), "started_at", "finished_at", "state")
            })
            for r in replies {
                let f = r.strings ?? []
                guard f.count == 3, f[2] == "succeeded", let s = Int64(f[0]), let e = Int64(f[1]) else {
                    throw BenchError("a task did not succeed: \(f)")
                }
                first = min(first, s)
                last = max(last, e)
            }
        }
        return (first, last)
    }

    /// Waits until nothing of queue `bench` is pending or leased.
    func waitDrained(_ client: KaleClient, queue: String = "bench", timeout: Duration = .seconds(600)) async throws {
        let keys = client.configuration.keys
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let r = try await client.redis.pipeline(keys.pendingLists(queue).map { RedisCommand("LLEN", $0) }
                + [RedisCommand("ZCARD", keys.active(queue)), RedisCommand("ZCARD", keys.scheduled(queue))])
            if r.allSatisfy({ $0.int == 0 }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchError("the queue did not drain within \(timeout)")
    }

    // MARK: End to end, memory

    func endToEnd() async throws -> [Figure] {
        var processRates: [Double] = [], inlineRates: [Double] = [], commandsPerTask: [Double] = [], scriptsPerTask: [Double] = []
        var idleMemory: [Double] = [], afterMemory: [Double] = [], growth: [Double] = [], idlePSS: [Double] = [], afterPSS: [Double] = []
        for run in 1...runs {
            for pool in ["process", "inline"] {
                progress("end to end (\(pool) pool) run \(run)/\(runs)")
                let prefix = freshPrefix()
                let c = client(prefix)
                let args = Array(repeating: JSONValue.null, count: 1000)
                var ids: [String] = []
                for _ in 0..<(drain / 1000) {
                    ids += try await c.enqueueBatch(name: "kale.noop", args: args, options: .init(queue: "bench")).map(\.id)
                }
                let worker = try BenchWorker(url: url, prefix: prefix, concurrency: 2, prefetch: prefetch, pool: pool)
                let before = try await commandCalls(c)
                try await worker.waitUntilReady(c)
                let idle = worker.memory()
                let idleProportional = worker.proportionalMemory()
                try await waitDrained(c)
                let after = worker.memory()
                let afterProportional = worker.proportionalMemory()
                let calls = try await commandCalls(c)
                worker.stop()
                let rate = Double(ids.count) / (try await span(c, ids: ids)).seconds
                if pool == "process" {
                    processRates.append(rate)
                    // commandstats also counts the commands that scripts run inside Redis.
                    let total = calls.reduce(0) { $0 + $1.value - (before[$1.key] ?? 0) }
                    commandsPerTask.append(Double(total) / Double(ids.count))
                    scriptsPerTask.append(Double((calls["evalsha"] ?? 0) - (before["evalsha"] ?? 0)) / Double(ids.count))
                    let idleTotal = Double(idle.supervisor + idle.children.reduce(0, +))
                    let afterTotal = Double(after.supervisor + after.children.reduce(0, +))
                    idleMemory.append(idleTotal / 1_048_576)
                    afterMemory.append(afterTotal / 1_048_576)
                    growth.append((afterTotal / idleTotal - 1) * 100)
                    idlePSS.append(Double(idleProportional) / 1_048_576)
                    afterPSS.append(Double(afterProportional) / 1_048_576)
                } else {
                    inlineRates.append(rate)
                }
                try await clean(prefix, c)
            }
        }
        return [
            Figure(name: "end to end: \(drain) kale.noop, process pool of 2, results kept\(prefetchLabel)", unit: "tasks/s", ours: processRates,
                   reference: nil, referenceRuns: nil, target: nil),
            Figure(name: "end to end: same, inline pool", unit: "tasks/s", ours: inlineRates, reference: nil, referenceRuns: nil, target: nil),
            Figure(name: "script calls (EVALSHA) per task, worker side", unit: "calls", ours: scriptsPerTask,
                   reference: nil, referenceRuns: nil, target: nil),
            Figure(name: "Redis commands per task incl. those inside scripts", unit: "calls", ours: commandsPerTask,
                   reference: nil, referenceRuns: nil, target: nil),
            Figure(name: "RSS idle: supervisor + 2 children", unit: "MiB", ours: idleMemory, reference: nil, referenceRuns: nil, target: nil),
            Figure(name: "RSS after \(drain) tasks: supervisor + 2 children", unit: "MiB", ours: afterMemory,
                   reference: nil, referenceRuns: nil, target: nil),
            Figure(name: "RSS growth over \(drain) tasks", unit: "%", ours: growth, reference: nil, referenceRuns: nil, target: nil),
            Figure(name: "PSS idle: supervisor + 2 children (shared pages once)", unit: "MiB", ours: idlePSS,
                   reference: nil, referenceRuns: nil, target: nil),
            Figure(name: "PSS after \(drain) tasks", unit: "MiB", ours: afterPSS, reference: nil, referenceRuns: nil, target: nil),
        ]
    }

    /// How the scenarios' workers prefetch, for a figure's name: nothing when by default.
    var prefetchLabel: String { prefetch.map { " (--prefetch \($0))" } ?? "" }

    // MARK: Latency

    func latency() async throws -> [Figure] {
        var p50: [Double] = [], p95: [Double] = [], p99: [Double] = []
        var spun50: [Double] = [], spun99: [Double] = []
        var ref50: [Double] = [], ref95: [Double] = [], ref99: [Double] = []
        for run in 1...runs {
            progress("latency run \(run)/\(runs)")
            let prefix = freshPrefix()
            let c = client(prefix)
            let spinning = client(prefix, replySpin: Measurements.replySpin)
            let worker = try BenchWorker(url: url, prefix: prefix, concurrency: 2, prefetch: nil, pool: "process")
            try await worker.waitUntilReady(c)
            let options = EnqueueOptions(queue: "bench")
            func roundTrips(_ c: KaleClient, _ count: Int) async throws -> [Double] {
                var samples: [Double] = []
                samples.reserveCapacity(count)
                for _ in 0..<count {
                    let start = ContinuousClock.now
                    let ref = try await c.enqueue(name: "kale.noop", args: .null, options: options)
                    _ = try await c.wait(for: ref.id, queue: "bench", timeout: .seconds(10))
                    samples.append((ContinuousClock.now - start).seconds * 1e6)
                }
                return samples.sorted()
            }
            // Warm up: scripts loaded, connections open, children hot.
            _ = try await roundTrips(c, 50)
            _ = try await roundTrips(spinning, 50)
            let samples = try await roundTrips(c, self.roundTrips)
            let spun = try await roundTrips(spinning, self.roundTrips)
            worker.stop()
            spinning.close()
            p50.append(percentile(samples, 0.50))
            p95.append(percentile(samples, 0.95))
            p99.append(percentile(samples, 0.99))
            spun50.append(percentile(spun, 0.50))
            spun99.append(percentile(spun, 0.99))
            let reference = try await onThread { [tool, roundTrips = self.roundTrips] in
                try tool.run(clients: 1, requests: roundTrips * 10, pipeline: 1, command: ["LPUSH", prefix + ":ref", "x"]) }
            ref50.append(reference.p50 * 1000)
            ref95.append(reference.p95 * 1000)
            ref99.append(reference.p99 * 1000)
            try await clean(prefix, c)
        }
        // Lower is better for latency: the ratio column shows ours / reference as is.
        return [
            Figure(name: "enqueue → awaited result, idle worker, p50", unit: "µs", ours: p50,
                   reference: "redis-benchmark -c 1 LPUSH p50", referenceRuns: ref50, target: nil),
            Figure(name: "enqueue → awaited result, p95", unit: "µs", ours: p95, reference: "LPUSH p95", referenceRuns: ref95, target: nil),
            Figure(name: "enqueue → awaited result, p99", unit: "µs", ours: p99, reference: "LPUSH p99", referenceRuns: ref99, target: nil),
            Figure(name: "same, producer with replySpin 150 µs, p50", unit: "µs", ours: spun50,
                   reference: "LPUSH p50", referenceRuns: ref50, target: nil),
            Figure(name: "same, producer with replySpin 150 µs, p99", unit: "µs", ours: spun99,
                   reference: "LPUSH p99", referenceRuns: ref99, target: nil),
        ]
    }

    // MARK: CPU scaling

    func scaling() async throws -> [Figure] {
        var efficiency1: [Double] = [], efficiency2: [Double] = []
        for run in 1...runs {
            for concurrency in [1, 2] {
                progress("CPU scaling, concurrency \(concurrency), run \(run)/\(runs)")
                let prefix = freshPrefix()
                let c = client(prefix)
                let worker = try BenchWorker(url: url, prefix: prefix, concurrency: concurrency, prefetch: nil, pool: "process")
                try await worker.waitUntilReady(c)
                let refs = try await c.enqueueBatch(name: "kale.spin", args: Array(repeating: .object(["ms": .number(100)]), count: 100),
                                                    options: .init(queue: "bench"))
                try await waitDrained(c)
                worker.stop()
                let elapsed = try await span(c, ids: refs.map(\.id)).seconds
                let ideal = 100 * 0.1 / Double(concurrency)
                (concurrency == 1 ? { efficiency1.append(ideal / elapsed * 100) } : { efficiency2.append(ideal / elapsed * 100) })()
                try await clean(prefix, c)
            }
        }
        return [
            Figure(name: "CPU scaling: 100 × 100 ms kale.spin, concurrency 1, efficiency", unit: "%", ours: efficiency1,
                   reference: nil, referenceRuns: nil, target: nil),
            Figure(name: "CPU scaling: concurrency 2, efficiency vs ideal 5.0 s", unit: "%", ours: efficiency2,
                   reference: nil, referenceRuns: nil, target: nil),
        ]
    }
}

/// Calls of every command Redis has run so far, those inside scripts included (INFO commandstats).
func commandCallCounts(_ redis: RedisClient) async throws -> [String: Int] {
    let text = try await redis.send("INFO", "commandstats").string ?? ""
    var out: [String: Int] = [:]
    for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_") {
        let name = line.dropFirst(8).prefix { $0 != ":" }
        if let r = line.range(of: "calls="), let n = Int(line[r.upperBound...].prefix { $0.isNumber }) { out[String(name)] = n }
    }
    return out
}

/// CPU time (user + system) a process has spent, in seconds, from /proc/PID/stat.
func cpuSeconds(_ pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
    let rest = stat[stat.index(after: close)...].split(separator: " ")
    // Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the name.
    guard rest.count > 12, let user = Double(rest[11]), let system = Double(rest[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

extension BenchWorker {
    /// CPU seconds of the supervisor and its live children.
    func cpu() -> Double { ([pid] + childPids(of: pid)).map(cpuSeconds).reduce(0, +) }
}

extension QueueScenarios {
    /// Redis' own CPU seconds so far (INFO cpu: used_cpu_user + used_cpu_sys).
    func redisCPU(_ client: KaleClient) async throws -> Double {
        let text = try await client.redis.send("INFO", "cpu").string ?? ""
        var total = 0.0
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("used_cpu_user:") || line.hasPrefix("used_cpu_sys:") {
            total += Double(line.split(separator: ":").last ?? "") ?? 0
        }
        return total
    }
}
