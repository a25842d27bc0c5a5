import Kale
import KaleRedis
import Logging
import Synchronization

extension Worker {
    /// On a Redis Cluster each queue's notify list is in its queue's slot, and one `BLPOP`
    /// may not name keys of several slots: a worker serving several queues blocks on each
    /// with a listener of its own (one connection each, decision 0027), and any token wakes
    /// the fetch loop, which then looks at every queue in fetch order.
    ///
    /// Returns nil when one block can serve (one server, or one queue).
    func startClusterWakeups() -> (signal: WakeSignal, listeners: [Task<Void, Never>])? {
        guard redis.configuration.url.isCluster, configuration.queues.count > 1 else { return nil }
        let signal = WakeSignal()
        let listeners = configuration.queues.map { queue in
            Task { await self.listen(on: queue.name, signal: signal) }
        }
        return (signal, listeners)
    }

    private func listen(on queue: String, signal: WakeSignal) async {
        let connection = redis.dedicatedConnection(name: "kale-wake")
        defer { connection.close() }
        let block = Duration.seconds(1)
        var failures = 0
        while isRunning, !Task.isCancelled {
            // A paused queue's tokens would wake the loop over and over for nothing.
            if pausedQueues.withLock({ $0.contains(queue) }) {
                try? await Task.sleep(for: .milliseconds(500))
                continue
            }
            do {
                let reply = try await connection.send(.blocking(block, "BLPOP", arguments: [kale.keys.notify(queue), block.seconds]))
                failures = 0
                if reply != .null { signal.raise() }
            } catch {
                failures += 1
                if failures == 1 || failures % 50 == 0 {
                    logger.warning("cannot wait on a queue; retrying", metadata: ["queue": "\(queue)", "error": "\(error)"])
                }
                // A fetch round may find what this listener could not wait for.
                signal.raise()
                try? await Task.sleep(for: .milliseconds(min(50 * failures, 1000)))
            }
        }
    }
}
