import Kale
import KaleRedis
import Logging

extension Worker {
    /// Leases tasks while there is room, and blocks on the queues' notify lists when there is
    /// no work: an idle worker wakes within a round trip of an enqueue, with no polling.
    func fetchLoop() async {
        let blocking = redis.dedicatedConnection(name: "kale-fetch")
        defer { blocking.close() }
        let notifyKeys = configuration.queues.map { kale.keys.notify($0.name) }
        var failures = 0
        while isRunning {
            let free = await held.waitForFree()
            guard free > 0, isRunning else { break }
            do {
                let got = try await fetchRound(free: free)
                failures = 0
                if got == 0 {
                    // One second server-side, so shutdown is noticed within a second.
                    _ = try await blocking.send(.blocking(.seconds(1), "BLPOP", arguments: notifyKeys + [1]))
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

    /// One pass over the queues in fetch order; returns how many tasks were leased.
    private func fetchRound(free: Int) async throws -> Int {
        var got = 0
        for queue in configuration.fetchOrder() where got < free {
            let now = Broker.now()
            let command = broker.fetch(queue: queue, worker: id, count: free - got,
                                       leaseDeadline: now + configuration.lease.milliseconds, now: now)
            let leased = Broker.leased(from: try await redis.send(command), queue: queue)
            var late: [LeasedTask] = []
            for task in leased {
                held.add(task)
                // A shutdown that began during the fetch closed the queue: hand these back.
                if !jobs.push(task) { late.append(task) }
            }
            if !late.isEmpty { await requeue(late) }
            got += leased.count
            // Strict order: a later queue is looked at only when the earlier ones are empty.
            if configuration.strictOrder, got > 0 { break }
        }
        return got
    }
}
