import Kale
import KaleRedis
import Logging

/// Carries the ends of workflow steps from this worker's queues to their workflows: takes
/// entries of each queue's workflow outbox under a 30 s lease, forwards each, and removes it
/// last, so an entry whose taker died is taken again and replayed (decision 0024).
struct WorkflowForwarder: Sendable {
    let worker: Worker
    static let lease: Int64 = 30_000

    func run() async {
        var failures = 0
        while worker.isRunning {
            var busy = false
            for queue in worker.configuration.queues.map(\.name) {
                do {
                    busy = try await forward(queue) || busy
                    failures = 0
                } catch {
                    failures += 1
                    if failures == 1 { worker.logger.warning("workflows: cannot forward", metadata: ["queue": "\(queue)", "error": "\(error)"]) }
                }
            }
            if !busy { await worker.pause(.milliseconds(50)) }
        }
    }

    /// Forwards up to 100 entries of `queue`; true when there were some.
    private func forward(_ queue: String) async throws -> Bool {
        let outbox = worker.kale.keys.workflowOutbox(queue)
        let ids = try await worker.broker.takeWorkflowOutbox(queue: queue, lease: Self.lease, limit: 100)
        guard !ids.isEmpty else { return false }
        let registry = worker.registry
        for id in ids {
            try await worker.client.forwardWorkflowStep(id, queue: queue) { registry.defaults(for: $0) }
            _ = try await worker.redis.send("ZREM", outbox, id)
        }
        return true
    }
}
