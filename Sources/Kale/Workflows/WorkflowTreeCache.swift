import Synchronization

/// The trees of recently forwarded workflows, parsed once: a chord of 10,000 steps is 10,000
/// forwards of the same tree, and reading and parsing it each time made them quadratic.
/// A tree never changes once submitted, so a cached one is never stale.
final class WorkflowTreeCache: Sendable {
    private let trees = Mutex<[String: WorkflowNode]>([:])
    private static let capacity = 256

    func tree(_ id: String) -> WorkflowNode? { trees.withLock { $0[id] } }

    func remember(_ id: String, _ tree: WorkflowNode) {
        trees.withLock { t in
            // Forgetting them all at the cap is enough: a worker forwards few workflows at once.
            if t.count >= Self.capacity { t.removeAll(keepingCapacity: true) }
            t[id] = tree
        }
    }
}
