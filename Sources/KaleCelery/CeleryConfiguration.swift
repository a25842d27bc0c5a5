/// How Kale meets Celery on a shared Redis: which kombu queues a worker takes over, and the
/// key prefixes and result expiry the Celery side is configured with.
///
/// The defaults are Celery's defaults (`celery` queue, no `global_keyprefix`, results kept
/// one day), so an unmodified Celery app needs no settings here.
public struct CeleryConfiguration: Sendable, Hashable {
    /// kombu queues whose messages workers take over (and whose Kale queue of the same name
    /// they serve). Producers leave this empty.
    public var queues: [String]
    /// kombu's `broker_transport_options={'global_keyprefix': …}`: prefixes every broker key.
    public var brokerKeyPrefix: String
    /// `result_backend_transport_options={'global_keyprefix': …}`. Celery appends `_` to it
    /// unless it ends in one of `:_-.`; give it as Celery is configured, the rule is applied here.
    public var resultKeyPrefix: String
    /// Celery's `result_expires` in seconds (0: kept forever). Default 1 day, as Celery's.
    public var resultExpires: Int
    /// Retries of a failing bridged task after its first run, unless the task type declares
    /// its own in ``Kale/TaskDefinition/defaultOptions`` (at most ``recordRetries``). Default 0:
    /// a Celery task that raises fails at once, as Celery does without `autoretry_for`.
    public var maxRetries: Int
    /// The retries a bridged task's record allows: those of ``maxRetries`` for failures it
    /// raises, and at least 3 for runs lost with their worker (a kill -9, a lost host), which
    /// are not the task's fault. The worker applies the task's own policy to raised failures;
    /// this bound is what the reaper applies to lost runs, so a task that keeps killing its
    /// worker still ends in the dead set.
    public var recordRetries: Int { max(maxRetries, 3) }

    /// Where a callback or chain step goes when its signature names no queue: Celery's
    /// `task_default_queue`.
    public var defaultQueue: String
    /// The highest number of messages one intake step takes over.
    public var intakeBatch: Int
    /// kombu's `priority_steps` transport option. Default `[0, 3, 6, 9]`, kombu's.
    public var prioritySteps: [Int] = CeleryKeys.prioritySteps
    /// kombu's `sep` transport option. Default `"\x06\x16"`, kombu's.
    public var separator: String = CeleryKeys.separator
    /// Celery's `task_routes` for the messages the bridge sends (callbacks, chain steps) whose
    /// signature names no queue: (pattern, queue) pairs, first match wins; a pattern may end in
    /// or hold `*` (as Celery's glob routes). Unmatched: ``defaultQueue``.
    public var routes: [CeleryRoute] = []
    /// Send Celery's events (worker heartbeats, task-started/-succeeded/-failed), so Flower and
    /// `celery events` see Kale workers. Default off, as Celery's `worker_send_task_events`.
    public var events = false
    /// An idle worker blocks on kombu's default-priority list (where Celery puts every
    /// message sent without a priority) and wakes at once for it; messages of priorities 3-9
    /// are looked for at least this often. Default 200 ms.
    public var pollInterval: Duration = .milliseconds(200) {
        // Zero would make BLMOVE block forever: nothing but priority 0 would ever be taken.
        didSet { if pollInterval < .milliseconds(10) { pollInterval = .milliseconds(10) } }
    }

    public init(queues: [String] = [], brokerKeyPrefix: String = "", resultKeyPrefix: String = "",
                resultExpires: Int = 86_400, maxRetries: Int = 0, defaultQueue: String = "celery", intakeBatch: Int = 200) {
        self.queues = queues
        self.brokerKeyPrefix = brokerKeyPrefix
        self.resultKeyPrefix = resultKeyPrefix
        self.resultExpires = resultExpires
        self.maxRetries = maxRetries
        self.defaultQueue = defaultQueue
        self.intakeBatch = intakeBatch
    }

    public var keys: CeleryKeys {
        CeleryKeys(brokerPrefix: brokerKeyPrefix, resultPrefix: resultKeyPrefix, prioritySteps: prioritySteps, separator: separator)
    }

    /// The queue a message for task `name` goes to when its signature names none.
    public func queue(for name: String) -> String {
        routes.first { $0.matches(name) }?.queue ?? defaultQueue
    }
}
