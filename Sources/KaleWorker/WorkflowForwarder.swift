import Kale
import KaleRedis
import Logging

/// Carries the ends of workflow steps to their workflows (decision 0024): at once for the
/// steps this worker ended itself, and by a sweep of each served queue's workflow outbox for
/// the rest (a worker that died between a step's outcome and its forward). A swept entry is
/// taken under a 30 s lease and removed last, so one whose taker died is taken again;
/// replaying a forward repeats nothing.
struct WorkflowForwarder: Sendable {
    /// A step that ended here: forwarded without waiting for the sweep.
    struct StepEnd: Sendable {
        var queue: String
        var id: String
    }

    let worker: Worker
    static let lease: Int64 = 30_000

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await end in worker.workflowEnds.stream {
                    // A failure here leaves the outbox entry for the sweep.
                    try? await forward(end.id, queue: end.queue)
                }
            }
            group.addTask {
                await sweep()
                worker.workflowEnds.continuation.finish()
            }
        }
    }

    private func sweep() async {
        var failures = 0
        while worker.isRunning {
            var busy = false
            for queue in worker.configuration.queues.map(\.name) {
                do {
                    let ids = try await worker.broker.takeWorkflowOutbox(queue: queue, lease: Self.lease, limit: 100)
                    for id in ids {
                        // One entry's trouble must not hold the others up: it shows again when
                        // its lease ends.
                        do { try await forward(id, queue: queue) } catch {
                            worker.logger.warning("workflows: cannot forward a step", metadata: ["task.id": "\(id)", "error": "\(error)"])
                        }
                    }
                    busy = busy || !ids.isEmpty
                    failures = 0
                } catch {
                    failures += 1
                    if failures == 1 { worker.logger.warning("workflows: cannot forward", metadata: ["queue": "\(queue)", "error": "\(error)"]) }
                }
            }
            // Entries are due 2 s after their step ended (the worker that ended it forwards it at
            // once): an idle sweep every second costs a call per queue, not a busy loop.
            if !busy { await worker.pause(.seconds(1)) }
        }
    }

    private func forward(_ id: String, queue: String) async throws {
        let registry = worker.registry
        try await worker.client.forwardWorkflowStep(id, queue: queue) { registry.defaults(for: $0) }
        _ = try await worker.redis.send("ZREM", worker.kale.keys.workflowOutbox(queue), id)
    }
}

extension Worker {
    /// Hands a workflow step this worker just ended to the forwarder.
    func workflowStepEnded(_ task: LeasedTask, _ envelope: Envelope) {
        guard envelope.headers["kale-workflow"] != nil else { return }
        workflowEnds.continuation.yield(.init(queue: task.queue, id: task.id))
    }
}
