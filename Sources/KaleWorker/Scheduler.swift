import Kale
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
            try? await Task.sleep(for: pause)
        }
    }
}

/// Returns the tasks of expired leases (dead or hung workers) to their queues.
struct Reaper: Sendable {
    let worker: Worker

    func run() async {
        while worker.isRunning {
            for (queue, _) in worker.configuration.queues {
                do {
                    let (requeued, dead) = try await worker.broker.reap(queue: queue)
                    if requeued + dead > 0 {
                        worker.logger.warning("reaped tasks of a lost worker", metadata: [
                            "queue": "\(queue)", "requeued": "\(requeued)", "dead": "\(dead)"])
                    }
                } catch {
                    // The fetch loop and heartbeat already report outages.
                }
            }
            try? await Task.sleep(for: worker.configuration.reaperInterval)
        }
    }
}
