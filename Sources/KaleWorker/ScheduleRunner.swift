import Kale
import KaleRedis
import Logging
import Synchronization

/// Fires the fleet's schedules from whichever worker is their leader: one check per tick for
/// the whole fleet, and a successor within the lease when the leader dies.
///
/// Exactly-once rests on the fire script, not on the election: a tick is recorded and its
/// task created in one step, under a task id derived from (schedule, tick), so a second
/// leader, a stale one or a retry is refused there (docs/schedules.md).
final class ScheduleRunner: Sendable {
    private struct State {
        var version = -1
        var definitions: [ScheduleDefinition] = []
        /// The last tick known to be recorded, per schedule; read from Redis when missing.
        var cursor: [String: Int64] = [:]
    }

    private let worker: Worker
    private let leadership: ScheduleLeadership
    private let state = Mutex(State())

    init(worker: Worker) {
        self.worker = worker
        leadership = ScheduleLeadership(worker: worker)
    }

    /// Ticks missed by more than this were missed while no worker was alive (the schedule's
    /// catch-up decides); younger ones are a leader handing over, and all fire.
    private var grace: Int64 { worker.configuration.scheduleLease.milliseconds + 1000 }

    /// Publishes the schedules the registry declares (``TaskRegistry/declaredSchedules``):
    /// added when missing, replaced when the stored one came from code and fires
    /// differently (keeping its paused state), left alone when made at run time. Returns
    /// false when Redis could not be reached (the caller tries again).
    func publishDeclared() async -> Bool {
        let declared = worker.registry.declaredSchedules
        guard !declared.isEmpty else { return true }
        do {
            for var d in declared {
                // Declared without a queue (and its task has no default one): this fleet's.
                if d.queue.isEmpty { d.queue = worker.kale.defaultQueue }
                if let have = try await worker.client.schedule(named: d.name) {
                    // One from code that does not verify (stored before signing was turned on)
                    // is this code's to sign; one made at run time is left to its author.
                    let verifies = (try? await worker.client.verifiedSchedule(named: d.name)) != nil
                    if have.origin == .runtime || (have.firesLike(d) && verifies) { continue }
                    // An operator's pause is kept only from a definition that verifies.
                    if verifies { d.paused = have.paused }
                }
                try await worker.client.addSchedule(d)
                worker.logger.info("schedule published", metadata: ["schedule": "\(d.name)", "timing": "\(d.timing.summary)"])
            }
        } catch {
            worker.logger.warning("cannot publish the declared schedules", metadata: ["error": "\(error)"])
            return false
        }
        return true
    }

    func run() async {
        var failures = 0
        while worker.isRunning {
            var wait = Duration.seconds(1)
            do {
                wait = try await step()
                failures = 0
            } catch {
                failures += 1
                if failures == 1 { worker.logger.warning("schedules: cannot reach Redis", metadata: ["error": "\(error)"]) }
            }
            await worker.pause(max(wait, .milliseconds(5)))
        }
        await leadership.abdicate()
    }

    /// One round: keep or seek leadership; as leader, fire every due tick. Returns how long
    /// to wait before the next round.
    private func step() async throws -> Duration {
        if try await leadership.refresh() {
            worker.logger.info("schedules: this worker leads", metadata: ["schedules.fence": "\(leadership.token ?? 0)"])
            state.withLock { $0.cursor = [:] }
        }
        guard leadership.token != nil else { return max(leadership.nextCheck - .now, .milliseconds(50)) }
        try await reloadIfChanged()
        var reloadedAt = ContinuousClock.now
        var soonest = Int64.max
        for name in state.withLock({ $0.definitions.filter { !$0.paused }.map(\.name) }) {
            // A long round re-reads the version before each schedule: a tick fired under a
            // definition changed more than a moment ago (moved to another queue) could fire
            // again under the new one.
            if ContinuousClock.now - reloadedAt > .milliseconds(500) {
                try await reloadIfChanged()
                reloadedAt = ContinuousClock.now
            }
            guard let d = state.withLock({ $0.definitions.first { $0.name == name } }), !d.paused else { continue }
            do {
                guard let next = try await fireDue(d) else { return .milliseconds(50) }
                soonest = min(soonest, next)
            } catch let error as RedisError {
                // One schedule's trouble (its slot unreachable, a key of the wrong type) must
                // not keep the others from firing.
                worker.logger.warning("schedules: cannot fire", metadata: ["schedule": "\(d.name)", "error": "\(error)"])
                soonest = min(soonest, Broker.now() + 1000)
            }
        }
        let untilTick = Duration.milliseconds(max(soonest - Broker.now(), 0))
        return min(untilTick, leadership.nextCheck - .now, .seconds(1))
    }

    /// Re-reads the definitions when their version moved.
    private func reloadIfChanged() async throws {
        let version = try await worker.client.schedulesVersion()
        guard version != state.withLock({ $0.version }) else { return }
        let (definitions, refused) = try await worker.client.verifiedScheduleDefinitions()
        state.withLock { s in
            s.version = version
            s.definitions = definitions
            s.cursor = [:]
        }
        worker.logger.info("schedules loaded", metadata: ["schedules.version": "\(version)", "schedules": "\(definitions.count)"])
        // Once per version: a definition that does not verify (written by hand, altered, signed
        // with a retired key) never fires, and says so where the leader's operator looks.
        for (name, reason) in refused.sorted(by: { $0.key < $1.key }) {
            worker.logger.error("schedule refused: it never fires", metadata: ["schedule": "\(name)", "reason": "\(reason)"])
        }
    }

    /// Fires the due ticks of `d`; returns its next tick (ms), or nil when leadership was
    /// lost on the way.
    private func fireDue(_ d: ScheduleDefinition) async throws -> Int64? {
        var after = try await cursor(of: d)
        let now = Broker.now()
        let (missed, due) = ticks(of: d, after: after, now: now)
        if let missed {
            guard try await fire(d, tick: missed, skip: d.catchUp == .none) else { return nil }
            after = missed
        }
        for tick in due {
            guard try await fire(d, tick: tick, skip: false) else { return nil }
            after = tick
        }
        return d.timing.nextFire(after: max(after, now)) ?? Int64.max
    }

    /// The newest tick missed for longer than the grace (nil when none), and the younger due
    /// ticks in order, among the ticks in (`after`, `now`].
    private func ticks(of d: ScheduleDefinition, after: Int64, now: Int64) -> (missed: Int64?, due: [Int64]) {
        var missed: Int64?
        var due: [Int64] = []
        var t = after
        var steps = 0
        while let next = d.timing.nextFire(after: t), next <= now {
            if now - next > grace { missed = next } else { due.append(next) }
            t = next
            steps += 1
            // A long outage of a frequent schedule: the old ticks need not be walked one by one.
            if steps == 10_000, now - t > grace { t = now - grace - 1 }
        }
        return (missed, due)
    }

    /// The last tick recorded for `d` (or when it was made), from memory or Redis.
    private func cursor(of d: ScheduleDefinition) async throws -> Int64 {
        if let c = state.withLock({ $0.cursor[d.name] }) { return c }
        let last = try await worker.redis.send("HGET", worker.kale.keys.scheduleState(d.queue, d.name), "last").string.flatMap { Int64($0) }
        let c = max(last ?? d.since, d.since)
        state.withLock { $0.cursor[d.name] = c }
        return c
    }

    /// Fires (or skips) one tick; false when this worker turned out not to lead any more.
    private func fire(_ d: ScheduleDefinition, tick: Int64, skip: Bool) async throws -> Bool {
        guard let token = leadership.token else { return false }
        let defaults = worker.registry.defaults(for: d.task) ?? EnqueueOptions()
        let outcome: KaleClient.FireOutcome
        do {
            outcome = try await worker.client.fire(d, tick: tick, fence: token, skip: skip, defaults: defaults)
        } catch let error as KaleError {
            // A definition that cannot make a task (its input is over the size limit): the
            // tick is passed over, or every round would try it again.
            worker.logger.error("schedules: cannot fire", metadata: ["schedule": "\(d.name)", "error": "\(error)"])
            if try await worker.client.fire(d, tick: tick, fence: token, skip: true) == .fenced {
                await leadership.lost()
                return false
            }
            state.withLock { $0.cursor[d.name] = tick }
            return true
        }
        switch outcome {
        case .fired(let id):
            if !skip {
                worker.logger.debug("schedule fired", metadata: ["schedule": "\(d.name)", "task.id": "\(id)",
                                                                 "late_ms": "\(Broker.now() - tick)"])
            }
        case .duplicate:
            worker.logger.info("schedules: tick fired already; refused", metadata: ["schedule": "\(d.name)", "tick": "\(tick)"])
        case .fenced:
            worker.logger.warning("schedules: another worker leads now; stopping", metadata: ["schedule": "\(d.name)"])
            await leadership.lost()
            return false
        }
        state.withLock { $0.cursor[d.name] = tick }
        return true
    }
}
