import Foundation
import Kale
import KaleObservability
import KaleRedis

extension QueueScenarios {
    /// What observing costs: the end-to-end drain with history, events and worker metrics on
    /// beside the same drain with all three off, in interleaved pairs (the machine's drift
    /// between runs cancels out of each pair's ratio); then the fleet gauges' render time
    /// with a million tasks pending and 10,000 dead.
    func observability() async throws -> [Figure] {
        var on: [Double] = [], off: [Double] = [], commandsOn: [Double] = [], commandsOff: [Double] = []
        var redisOn: [Double] = [], redisOff: [Double] = [], workerOn: [Double] = [], workerOff: [Double] = []
        var all: [Double] = [], offBesideAll: [Double] = [], redisAll: [Double] = []
        for run in 1...runs {
            // The default (history, metrics, events with the frequent kinds only while watched),
            // off, and every event written (KALE_EVENTS=all), each paired with the off run.
            for mode in ["on", "off", "all"] {
                let observed = mode != "off"
                progress("observability \(mode) run \(run)/\(runs)")
                let prefix = freshPrefix()
                let c = client(prefix, observed: observed, allEvents: mode == "all")
                var ids: [String] = []
                for _ in 0..<(drain / 1000) {
                    ids += try await c.enqueueBatch(name: "kale.noop", args: Array(repeating: .null, count: 1000),
                                                    options: .init(queue: "bench")).map(\.id)
                }
                let worker = try BenchWorker(url: url, prefix: prefix, concurrency: 2, prefetch: prefetch, pool: "process",
                                             arguments: observed ? ["--metrics-port", "0"] : [],
                                             environment: mode == "all" ? ["KALE_EVENTS": "all"]
                                                : observed ? [:] : ["KALE_HISTORY": "off", "KALE_EVENTS": "off"])
                let before = try await commandCalls(c)
                try await worker.waitUntilReady(c)
                let (redisBefore, workerBefore) = (try await redisCPU(c), worker.cpu())
                try await waitDrained(c)
                let (redisAfter, workerAfter) = (try await redisCPU(c), worker.cpu())
                let calls = try await commandCalls(c)
                worker.stop()
                let redisPerTask = (redisAfter - redisBefore) * 1_000_000 / Double(ids.count)
                let workerPerTask = (workerAfter - workerBefore) * 1_000_000 / Double(ids.count)
                switch mode {
                case "on":
                    redisOn.append(redisPerTask)
                    workerOn.append(workerPerTask)
                case "off":
                    redisOff.append(redisPerTask)
                    workerOff.append(workerPerTask)
                default:
                    redisAll.append(redisPerTask)
                }
                let rate = Double(ids.count) / (try await span(c, ids: ids)).seconds
                let total = Double(calls.reduce(0) { $0 + $1.value - (before[$1.key] ?? 0) }) / Double(ids.count)
                switch mode {
                case "on": on.append(rate); commandsOn.append(total)
                case "off": off.append(rate); commandsOff.append(total); offBesideAll.append(rate)
                default: all.append(rate)
                }
                try await clean(prefix, c)
            }
        }
        var figures = [
            Figure(name: "end to end, process pool of 2: history, events and metrics on", unit: "tasks/s", ours: on,
                   reference: "the same with all three off", referenceRuns: off, target: 0.95),
            Figure(name: "the same with every event written (KALE_EVENTS=all)", unit: "tasks/s", ours: all,
                   reference: "all three off", referenceRuns: offBesideAll, target: nil),
            Figure(name: "Redis commands per task incl. scripts: observability on", unit: "calls", ours: commandsOn,
                   reference: nil, referenceRuns: nil, target: nil),
            Figure(name: "Redis commands per task incl. scripts: observability off", unit: "calls", ours: commandsOff,
                   reference: nil, referenceRuns: nil, target: nil),
            Figure(name: "Redis CPU per task: observability on", unit: "µs", ours: redisOn, reference: "off", referenceRuns: redisOff,
                   target: nil),
            Figure(name: "worker CPU per task (supervisor + children): observability on", unit: "µs", ours: workerOn,
                   reference: "off", referenceRuns: workerOff, target: nil),
            Figure(name: "Redis CPU per task: every event written", unit: "µs", ours: redisAll, reference: "off", referenceRuns: redisOff,
                   target: nil),
        ]
        figures.append(try await fleetRender())
        figures.append(tracingOffCost())
        return figures
    }

    /// What tracing costs when no tracer is bootstrapped (the default): the check every
    /// enqueue and every run makes, timed over a million calls in this release build.
    private func tracingOffCost() -> Figure {
        var times: [Double] = []
        for _ in 0..<max(runs, 3) {
            var seen = 0
            let start = ContinuousClock.now
            for _ in 0..<1_000_000 where TaskTracing.tracer != nil { seen += 1 }
            let elapsed = ContinuousClock.now - start
            // Used, so the optimiser cannot drop the loop.
            if seen != 0 { progress("a tracer is bootstrapped: the figure is not the off cost") }
            times.append(elapsed.seconds * 1e9 / 1_000_000)
        }
        return Figure(name: "tracing off: the tracer check each enqueue and run makes", unit: "ns", ours: times,
                      reference: nil, referenceRuns: nil, target: nil)
    }

    /// `FleetMetrics.render` (the dashboard's /metrics; its overview reads the same counts)
    /// over 1,000,000 pending ids and 10,000 dead tasks with records.
    private func fleetRender() async throws -> Figure {
        progress("fleet gauges with 1,000,000 pending and 10,000 dead")
        let prefix = freshPrefix()
        let c = client(prefix)
        let keys = c.configuration.keys
        _ = try await c.enqueue(name: "kale.noop", args: .null, options: .init(queue: "bench"))
        for chunk in 0..<100 {
            let ids = (0..<10_000).map { "p\(chunk)-\($0)" as any RedisArgument }
            _ = try await c.redis.send(RedisCommand("LPUSH", arguments: [keys.pending("bench", .normal)] + ids))
        }
        var dead: [RedisCommand] = []
        for i in 0..<10_000 {
            let id = "d\(i)"
            dead.append(RedisCommand("HSET", keys.task("bench", id), "name", "kale.fail", "state", "dead",
                                     "error", #"{"kind":"error","type":"Failure","message":"boom"}"#))
            dead.append(RedisCommand("ZADD", keys.dead("bench"), Broker.now(), id))
        }
        _ = try await c.redis.pipeline(dead)
        var times: [Double] = []
        for _ in 0..<max(runs * 5, 10) {
            let start = ContinuousClock.now
            let text = try await FleetMetrics.render(client: c)
            times.append((ContinuousClock.now - start).seconds * 1000)
            guard text.contains("state=\"pending\"} 1000001") else { throw BenchError("fleet gauges miss the pending count") }
        }
        try await clean(prefix, c)
        return Figure(name: "fleet gauges (dashboard /metrics), 1,000,000 pending + 10,000 dead", unit: "ms", ours: times,
                      reference: nil, referenceRuns: nil, target: nil)
    }
}
