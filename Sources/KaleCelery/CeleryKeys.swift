/// The Redis keys of kombu's transport and Celery's result backend (`../shared/CELERY.md` §2.1, §3.1).
public struct CeleryKeys: Sendable, Hashable {
    /// kombu's separator between a queue name and its priority step, and inside bindings.
    public static let separator = "\u{06}\u{16}"
    /// kombu's priority steps on Redis: 0 is the highest.
    public static let prioritySteps = [0, 3, 6, 9]

    public let brokerPrefix: String
    /// The result-key prefix as Celery uses it (with its `_` appended when needed).
    public let resultPrefix: String

    public init(brokerPrefix: String = "", resultPrefix: String = "") {
        self.brokerPrefix = brokerPrefix
        if resultPrefix.isEmpty || ":_-.".contains(resultPrefix.last!) {
            self.resultPrefix = resultPrefix
        } else {
            self.resultPrefix = resultPrefix + "_"
        }
    }

    /// The list of `queue` holding messages of `priority` (0-9; kombu rounds down to a step).
    public func bucket(_ queue: String, priority: Int) -> String {
        let step = Self.prioritySteps.last { $0 <= max(priority, 0) } ?? 0
        return brokerPrefix + queue + (step == 0 ? "" : Self.separator + String(step))
    }

    /// The four lists of `queue`, highest priority first.
    public func buckets(_ queue: String) -> [String] { Self.prioritySteps.map { bucket(queue, priority: $0) } }

    /// The set kombu routes exchange `queue` through, and its member for the queue itself.
    public func binding(_ queue: String) -> (key: String, member: String) {
        (brokerPrefix + "_kombu.binding." + queue, queue + Self.separator + Self.separator + queue)
    }

    /// kombu 5.7's copy of the binding table that its sweep keeps.
    public func permanentBinding(_ queue: String) -> String { brokerPrefix + "_kombu.binding_permanent." + queue }

    /// kombu's hash of delivered, unacknowledged messages (Kale never uses it).
    public var unacked: String { brokerPrefix + "unacked" }

    /// The prefix of result keys; the key (and channel) of task `id` is this plus the id.
    public var resultKeyPrefix: String { resultPrefix + "celery-task-meta-" }
    public func result(_ id: String) -> String { resultKeyPrefix + id }
}
