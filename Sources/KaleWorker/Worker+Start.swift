import Kale
import KaleRedis
import Logging

extension Worker {
    /// Whether a run may go on once its start is counted.
    enum StartVerdict { case run, leaseLost, cancelled }

    /// Reads the reply of a start (1 run, 2 cancel requested, 0 lease lost; nil: no answer,
    /// run and let the heartbeat find out).
    static func verdict(_ start: Int?, _ log: Logger) -> StartVerdict {
        switch start {
        case 0?:
            log.warning("lease lost before the task started; not running it")
            return .leaseLost
        case 2?: return .cancelled
        default: return .run
        }
    }

    /// Counts the attempt in Redis as the run begins, and says whether to run.
    ///
    /// A task in the inline pool runs in this very process, so a crash in it is a crash of
    /// the worker: the start is recorded before it runs, or a task that kills its worker would
    /// never be counted and would run forever. A child can only take down itself, whose death
    /// the supervisor records, so there the mark goes out without waiting: the run does not
    /// idle a round trip, and the scripts that end the run write the attempt themselves.
    func markStarted(_ task: LeasedTask, _ log: Logger) async -> StartVerdict {
        guard configuration.pool == .inline else {
            // Unstructured: see above; its retries end with the lease.
            Task { _ = await self.startAlone(task) }
            return .run
        }
        return Self.verdict(await startAlone(task), log)
    }

    /// Counts the start of `task` with a script call of its own.
    func startAlone(_ task: LeasedTask) async -> Int? {
        await acknowledge(broker.startCommand(task, worker: id, now: Broker.now()), task: task, what: "start")?.int
    }
}
