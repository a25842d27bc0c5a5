import Kale
import KaleRedis
import Logging
import Synchronization

extension Worker {
    /// Leases tasks while there is room, and blocks on the queues' notify lists when there is
    /// no work: an idle worker wakes within a round trip of an enqueue, with no polling.
    func fetchLoop() async {
        let blocking = redis.dedicatedConnection(name: "kale-fetch")
        let wakeups = startClusterWakeups()
        defer {
            blocking.close()
            for listener in wakeups?.listeners ?? [] { listener.cancel() }
        }
        var failures = 0
        // True when the fetch pipelined behind the last block found the only queue empty: a
        // fetch round now would find nothing, so block again at once. (The fetch deleted the
        // notify list, so the next enqueue's token wakes the block.)
        var drained = false
        while isRunning {
            let free = await held.waitForFree()
            guard free > 0, isRunning else { break }
            do {
                let got = drained ? 0 : try await fetchRound(free: free)
                failures = 0
                drained = false
                // Nothing to lease: the next burst may be of other tasks than the last, so an
                // adaptive prefetch starts again from one per slot (decision 0031) and the
                // block's fetch asks for no more than that leaves room for.
                let room = got == 0 ? held.wentIdle() : free
                if got == 0, room <= 0 {
                    continue
                } else if got == 0, let wakeups {
                    await wakeups.signal.wait(timeout: .seconds(1))
                } else if got == 0 {
                    // nil: every queue is paused; look again (a resume) within the pause.
                    if let taken = try await awaitWork(on: blocking, free: room) {
                        drained = taken < room && configuration.queues.count == 1
                    }
                }
            } catch {
                failures += 1
                if failures == 1 || failures % 50 == 0 {
                    logger.warning("cannot fetch tasks; retrying", metadata: ["error": "\(error)", "failures": "\(failures)"])
                }
                // The connection already backs off between reconnects; this keeps a server
                // that answers with errors (not down, e.g. OOM) from being hammered.
                try? await Task.sleep(for: .milliseconds(min(50 * failures, 1000)))
            }
        }
        jobs.close()
    }

    /// Blocks on the notify lists, with a fetch of the first queue pipelined behind the block.
    ///
    /// Redis runs the fetch the moment the BLPOP returns, so an idle worker gets its task in
    /// the same round trip as the wake-up instead of one more round trip (and two thread
    /// hops) later. The fetch is written before the block ends, so it takes Redis' clock
    /// (now 0) for its lease and timestamps rather than a clock read up to a block ago.
    /// Shutdown is noticed within a block (1 s).
    /// Paused queues are left out of the block: their tokens would wake it at once, over and
    /// over. The block's 1 s bounds how long a resume goes unnoticed.
    /// Returns how many tasks the pipelined fetch leased; nil when every queue is paused (the
    /// worker waited half a second instead of blocking).
    private func awaitWork(on blocking: DedicatedConnection, free: Int) async throws -> Int? {
        let block = Duration.seconds(1)
        let paused = pausedQueues.withLock { $0 }
        let open = configuration.fetchOrder().filter { !paused.contains($0) }
        guard let queue = open.first else {
            await pause(.milliseconds(500))
            return nil
        }
        let notifyKeys = configuration.queues.map(\.name).filter { !paused.contains($0) }.map { kale.keys.notify($0) }
        let lease = nextLeaseToken()
        let fetch = broker.fetch(queue: queue, worker: id, lease: lease, count: free, leaseDeadline: configuration.lease.milliseconds, now: 0)
        let replies = try await blocking.pipeline([.blocking(block, "BLPOP", arguments: notifyKeys + [block.seconds]), fetch])
        if case .error(let message)? = replies.last { throw RedisError(serverReply: message, to: fetch, user: redis.configuration.url.user) }
        if notePaused(queue, replies[1]) { return 0 }
        let leased = Broker.leased(from: replies[1], queue: queue, lease: lease)
        await take(leased)
        return leased.count
    }

    /// Remembers whether a fetch of `queue` found it paused; returns that.
    private func notePaused(_ queue: String, _ reply: RedisReply) -> Bool {
        let paused = Broker.isPaused(reply)
        let changed = pausedQueues.withLock { set in paused ? set.insert(queue).inserted : set.remove(queue) != nil }
        if changed { logger.info(paused ? "queue paused: leasing nothing from it" : "queue resumed", metadata: ["queue": "\(queue)"]) }
        return paused
    }

    /// A token for the next fetch's leases: unique within this worker (whose id is unique
    /// among workers), short, so it costs Redis little to store and compare.
    private func nextLeaseToken() -> String {
        String(leaseCounter.add(1, ordering: .relaxed).newValue, radix: 36)
    }

    /// Hands leased tasks to the runners; those that come too late for a shutdown go back.
    private func take(_ leased: [LeasedTask]) async {
        var late: [LeasedTask] = []
        for task in leased {
            held.add(task)
            // A shutdown that began during the fetch closed the queue: hand these back.
            if !jobs.push(task) { late.append(task) }
        }
        if !late.isEmpty { await requeue(late) }
    }

    /// One pass over the queues in fetch order; returns how many tasks were leased.
    private func fetchRound(free: Int) async throws -> Int {
        var got = 0
        for queue in configuration.fetchOrder() where got < free {
            let now = Broker.now()
            let lease = nextLeaseToken()
            let command = broker.fetch(queue: queue, worker: id, lease: lease, count: free - got,
                                       leaseDeadline: now + configuration.lease.milliseconds, now: now)
            let reply = try await redis.send(command)
            if notePaused(queue, reply) { continue }
            let leased = Broker.leased(from: reply, queue: queue, lease: lease)
            await take(leased)
            got += leased.count
            // Strict order: a later queue is looked at only when the earlier ones are empty.
            if configuration.strictOrder, got > 0 { break }
        }
        return got
    }
}
