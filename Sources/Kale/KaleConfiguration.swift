public import KaleRedis

/// Settings shared by producers and workers. Read once at the edge and passed down.
public struct KaleConfiguration: Sendable {
    /// The Redis server and connection settings.
    public var redis: RedisConfiguration
    /// The key layout; change the prefix to run several Kale apps on one Redis.
    public var keys: Keys
    /// The queue used when neither the options nor the task type name one. Default `default`.
    public var defaultQueue: String
    /// How long a finished task's record and result are kept. Default 1 day.
    ///
    /// Must be at least 1 ms: enqueue throws ``KaleError`` `.invalidOptions` otherwise. Zero
    /// is refused rather than read as "keep forever" or "keep nothing", which it means in
    /// other queues; to keep results for long, give a long duration.
    public var resultTTL: Duration
    /// Largest encoded message accepted at enqueue and at fetch, in bytes. Default 1 MiB.
    public var maxMessageSize: Int
    /// Dead tasks kept per queue at most; older ones become `failed` and expire. Default 10,000.
    public var deadSetMaxSize: Int
    /// How long a dead task is kept. Default 7 days.
    public var deadSetMaxAge: Duration
    /// The wire format messages are written in.
    public var format: any MessageFormat
    /// Whether transitions count into the per-minute history the dashboard charts
    /// (``Keys/history(_:minute:)``, kept 25 h). Default true. Producers and workers each
    /// decide for what they write; a deployment sets it everywhere (`KALE_HISTORY=off`).
    public var history: Bool
    /// How many entries each queue's event stream keeps (approximately: trimmed with
    /// `MAXLEN ~`); 0 writes no events. Default 10,000 (`KALE_EVENTS=off`, `KALE_EVENTS_LENGTH`).
    public var eventStreamLength: Int
    /// Whether the frequent events (`enqueued`, `started`, `succeeded`, `deferred`) are written always.
    /// Default false: they are written while someone follows the stream (`kale events
    /// --follow`, the dashboard's live view: ``KaleClient/followEvents(queues:)`` marks the
    /// queues watched), the rest (`retried`, `dead`, `cancelled`, `expired`, `reaped`, the
    /// workers') always. An XADD per success was the largest part of observing's Redis cost
    /// (decision 0020). `KALE_EVENTS=all` sets it.
    public var recordAllEvents: Bool
    /// Replicas that must hold each enqueue (unless its options say otherwise) and, in a
    /// worker, each recorded result before it counts as done. Default nil: Redis's
    /// asynchronous replication, fastest, and an acknowledged write can be lost with the
    /// master (docs/high-availability.md). `KALE_REPLICAS` / `KALE_REPLICA_TIMEOUT` set it.
    public var replication: Replication?

    public init(
        redis: RedisConfiguration,
        keys: Keys = Keys(),
        defaultQueue: String = "default",
        resultTTL: Duration = .seconds(86_400),
        maxMessageSize: Int = 1 << 20,
        deadSetMaxSize: Int = 10_000,
        deadSetMaxAge: Duration = .seconds(7 * 86_400),
        format: any MessageFormat = KaleJSONFormat(),
        history: Bool = true,
        eventStreamLength: Int = 10_000,
        recordAllEvents: Bool = false,
        replication: Replication? = nil
    ) {
        precondition(maxMessageSize > 0 && deadSetMaxSize > 0, "limits must be positive")
        precondition(eventStreamLength >= 0, "the event stream length is 0 (off) or positive")
        self.redis = redis
        self.keys = keys
        self.defaultQueue = defaultQueue
        self.resultTTL = resultTTL
        self.maxMessageSize = maxMessageSize
        self.deadSetMaxSize = deadSetMaxSize
        self.deadSetMaxAge = deadSetMaxAge
        self.format = format
        self.history = history
        self.eventStreamLength = eventStreamLength
        self.recordAllEvents = recordAllEvents
        self.replication = replication
    }
}
