import Kale
import KaleRedis
import Logging

/// Promotes due delayed and retrying tasks to pending, every `schedulerInterval` (50 ms by
/// default, so a due task starts within about 100 ms). The promote script is atomic, so any
/// number of workers can run this at once and each task is promoted exactly once.
struct Scheduler: Sendable {
    let worker: Worker

    func run() async {
        var failures = 0
        while worker.isRunning {
            var soonest: Int64?
            for (queue, _) in worker.configuration.queues {
                do {
                    let (_, next) = try await worker.broker.promote(queue: queue)
                    if let next { soonest = min(soonest ?? next, next) }
                    failures = 0
                } catch {
                    failures += 1
                    if failures == 1 { worker.logger.warning("scheduler cannot reach Redis", metadata: ["error": "\(error)"]) }
                }
            }
            // Sleep to the next due time when that is sooner than the tick.
            var pause = worker.configuration.schedulerInterval
            if let soonest {
                let until = Duration.milliseconds(max(soonest - Broker.now(), 1))
                if until < pause { pause = until }
            }
            await worker.pause(pause)
        }
    }
}

/// Returns the tasks of expired leases (dead or hung workers) to their queues.
struct Reaper: Sendable {
    let worker: Worker

    func run() async {
        var rounds = 0
        while worker.isRunning {
            rounds += 1
            if rounds % 30 == 1 { await pruneWorkers() }
            await refreshWatch()
            for (queue, _) in worker.configuration.queues {
                do {
                    let r = try await worker.broker.reap(queue: queue)
                    if r.requeued + r.dead + r.cancelled > 0 {
                        // `lost_runs` lists the tasks that had started: each may run again
                        // (at least once). Prefetched ones had not, and cost nothing.
                        worker.logger.warning("reaped tasks of a lost worker", metadata: [
                            "queue": "\(queue)", "requeued": "\(r.requeued)", "dead": "\(r.dead)",
                            "cancelled": "\(r.cancelled)", "lost_runs": "\(r.lostRuns.joined(separator: ","))"])
                    }
                } catch {
                    // The fetch loop and heartbeat already report outages.
                }
            }
            await worker.pause(worker.configuration.reaperInterval)
        }
    }

    /// Drops registry members whose entry expired: workers that died without deregistering
    /// (kill -9). Their leases are reaped by lease expiry; this only keeps the list short.
    /// Asks which of this worker's queues someone watches (``EventWatch``), every 2 s at most.
    private func refreshWatch() async {
        let now = Broker.now()
        let queues = worker.configuration.queues.map(\.name).filter { worker.broker.watch.isStale($0, now: now, maxAge: 2_000) }
        guard worker.kale.eventStreamLength > 0, !worker.kale.recordAllEvents, !queues.isEmpty,
              let replies = try? await worker.redis.pipeline(queues.map { RedisCommand("EXISTS", worker.kale.keys.eventWatch($0)) })
        else { return }
        for (q, r) in zip(queues, replies) { worker.broker.watch.record(q, watched: r.int == 1, at: now) }
    }

    private func pruneWorkers() async {
        let keys = worker.kale.keys
        guard let ids = try? await worker.redis.send("ZRANGE", keys.workers, 0, -1).strings, !ids.isEmpty else { return }
        guard let exists = try? await worker.redis.pipeline(ids.map { RedisCommand("EXISTS", keys.worker($0)) }) else { return }
        let gone = zip(ids, exists).filter { $0.1.int == 0 }.map(\.0)
        guard !gone.isEmpty else { return }
        _ = try? await worker.redis.send(RedisCommand("ZREM", arguments: [keys.workers] + gone))
    }
}
