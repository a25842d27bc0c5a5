public import KaleRedis

/// The Redis keys of kombu's transport and Celery's result backend (`../shared/CELERY.md` §2.1, §3.1).
public struct CeleryKeys: Sendable, Hashable {
    /// kombu's default separator between a queue name and its priority step, and inside bindings.
    public static let separator = "\u{06}\u{16}"
    /// kombu's default priority steps on Redis: 0 is the highest.
    public static let prioritySteps = [0, 3, 6, 9]

    public let brokerPrefix: String
    /// The result-key prefix as Celery uses it (with its `_` appended when needed).
    public let resultPrefix: String
    /// kombu's `priority_steps` and `sep` transport options (Celery's routing guide suggests
    /// `list(range(10))` and `':'` for ten real levels).
    public let steps: [Int]
    public let sep: String

    public init(brokerPrefix: String = "", resultPrefix: String = "", prioritySteps: [Int] = CeleryKeys.prioritySteps,
                separator: String = CeleryKeys.separator) {
        self.brokerPrefix = brokerPrefix
        steps = prioritySteps.isEmpty ? CeleryKeys.prioritySteps : prioritySteps.sorted()
        sep = separator
        if resultPrefix.isEmpty || ":_-.".contains(resultPrefix.last!) {
            self.resultPrefix = resultPrefix
        } else {
            self.resultPrefix = resultPrefix + "_"
        }
    }

    /// The list of `queue` holding messages of `priority` (0-9; kombu rounds down to a step).
    public func bucket(_ queue: String, priority: Int) -> String {
        // As kombu's _q_for_pri: the largest step not above the priority; step 0 has no suffix.
        let step = steps.last { $0 <= max(priority, 0) } ?? steps[steps.count - 1]
        return brokerPrefix + queue + (step == 0 ? "" : sep + String(step))
    }

    /// The lists of `queue` with their priority steps, highest priority (0) first.
    public func buckets(_ queue: String) -> [(list: String, step: Int)] { steps.map { (bucket(queue, priority: $0), $0) } }

    /// The set kombu routes exchange `queue` through, and its member for the queue itself.
    public func binding(_ queue: String) -> (key: String, member: String) {
        (brokerPrefix + "_kombu.binding." + queue, queue + sep + sep + queue)
    }

    /// kombu 5.7's copy of the binding table that its sweep keeps.
    public func permanentBinding(_ queue: String) -> String { brokerPrefix + "_kombu.binding_permanent." + queue }

    /// The bindings a Celery client or worker declaring `queue` writes: the table kombu routes
    /// by, and kombu 5.7's permanent copy of it.
    public func bindingCommands(_ queue: String) -> [RedisCommand] {
        let b = binding(queue)
        return [RedisCommand("SADD", b.key, b.member), RedisCommand("SADD", permanentBinding(queue), b.member)]
    }

    /// kombu's hash of delivered, unacknowledged messages (Kale never uses it).
    public var unacked: String { brokerPrefix + "unacked" }

    /// The prefix of result keys; the key (and channel) of task `id` is this plus the id.
    public var resultKeyPrefix: String { resultPrefix + "celery-task-meta-" }
    public func result(_ id: String) -> String { resultKeyPrefix + id }
}
