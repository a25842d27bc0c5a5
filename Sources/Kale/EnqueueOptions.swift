/// Everything a producer can say about one task besides its input.
///
/// Unset fields fall back to the task type's ``TaskDefinition/defaultOptions`` and then to
/// the defaults documented on each field.
public struct EnqueueOptions: Sendable, Hashable {
    /// The queue to send to. Default `default`.
    public var queue: String?
    /// Strict order within the queue. Default `.normal`.
    public var priority: Priority?
    /// Run no earlier than this long after enqueueing. Default: at once.
    public var delay: Duration?
    /// Run no earlier than this wall-clock time (seconds since 1970). Overrides `delay`.
    public var eta: Double?
    /// Never start after this long from enqueueing; the task ends `expired`. Default: never.
    public var expiresIn: Duration?
    /// Retries after the first attempt fails; 0 means one attempt in all. Default 3.
    public var maxRetries: Int?
    /// Delay between retries. Default ``Backoff/default`` (exponential with jitter).
    public var backoff: Backoff?
    /// The task is asked to stop (cooperative cancellation) after this long. Default: none.
    public var softTimeLimit: Duration?
    /// The task's process is killed after this long. Default: none (the worker's may apply).
    public var timeLimit: Duration?
    /// A duplicate enqueue with the same key while it is held returns the first task's id
    /// and creates nothing. Held until the task finishes or `uniqueTTL` passes.
    public var uniqueKey: String?
    /// How long a unique key is held at most. Default 1 hour.
    public var uniqueTTL: Duration?
    /// How long the result is kept after the task ends. Default: the client's
    /// (``KaleConfiguration/resultTTL``, 1 day).
    ///
    /// Must be at least 1 ms, as the client's: zero and negative durations are refused with
    /// ``KaleError`` `.invalidOptions`.
    public var resultTTL: Duration?
    /// Free-form headers carried with the task (trace context, tenant …).
    public var headers: [String: String]
    /// A caller-chosen id (must be unique); default a random UUID.
    ///
    /// 1 to 200 bytes of UTF-8 with no whitespace, control character, `{` or `}`
    /// (``TaskID/problem(with:)``): it becomes part of key names. Enqueue throws
    /// ``KaleError`` `.invalidOptions` for any other id.
    public var id: String?
    /// Return only once this many replicas hold the task (``Replication``). Default: the
    /// client's ``KaleConfiguration/replication`` (none).
    public var replication: Replication?
    /// Encrypt the arguments and the result in Redis (AES-GCM, docs/security.md). Needs a
    /// client whose format holds keys (`KALE_SIGNING_KEYS`); enqueue throws
    /// ``KaleError`` `.invalidOptions` otherwise. Default false.
    public var encrypted: Bool?
    /// The end group the task reports its end to (``KaleClient/newEndGroup()``): one stream in
    /// its queue that ``KaleClient/waitAll(_:endGroup:timeout:onEnd:)`` reads, so awaiting a
    /// batch costs one blocking read instead of a subscription per task. Like `id`, never
    /// taken from defaults. Default: none.
    public var endGroup: String?

    public init(
        queue: String? = nil, priority: Priority? = nil, delay: Duration? = nil, eta: Double? = nil,
        expiresIn: Duration? = nil, maxRetries: Int? = nil, backoff: Backoff? = nil,
        softTimeLimit: Duration? = nil, timeLimit: Duration? = nil, uniqueKey: String? = nil,
        uniqueTTL: Duration? = nil, resultTTL: Duration? = nil, headers: [String: String] = [:], id: String? = nil,
        replication: Replication? = nil, encrypted: Bool? = nil, endGroup: String? = nil
    ) {
        self.queue = queue
        self.priority = priority
        self.delay = delay
        self.eta = eta
        self.expiresIn = expiresIn
        self.maxRetries = maxRetries
        self.backoff = backoff
        self.softTimeLimit = softTimeLimit
        self.timeLimit = timeLimit
        self.uniqueKey = uniqueKey
        self.uniqueTTL = uniqueTTL
        self.resultTTL = resultTTL
        self.headers = headers
        self.id = id
        self.replication = replication
        self.encrypted = encrypted
        self.endGroup = endGroup
    }

    /// These options with every unset field taken from `fallback`: the one rule by which a
    /// task's declared defaults (``TaskDefinition/defaultOptions``) meet what a producer says.
    ///
    /// The typed ``KaleClient/enqueue(_:_:options:)`` applies it with `T.defaultOptions`; an
    /// enqueue by name (the CLI, the dashboard, a schedule) with
    /// ``TaskRegistry/defaults(for:)``. What `self` sets always wins:
    /// - `delay` and `eta` are one choice, when to run: if `self` sets either, neither is taken
    ///   from `fallback` (a default `eta` would otherwise override an explicit `delay`).
    /// - `headers` are merged, `self`'s value winning for a name both have.
    /// - `id` is never taken from `fallback`: an id names one task, so a default one would turn
    ///   every enqueue after the first into a duplicate. Nor is `endGroup`, which names one wait.
    public func merged(over fallback: EnqueueOptions) -> EnqueueOptions {
        var o = self
        o.queue = queue ?? fallback.queue
        o.priority = priority ?? fallback.priority
        if delay == nil && eta == nil {
            o.delay = fallback.delay
            o.eta = fallback.eta
        }
        o.expiresIn = expiresIn ?? fallback.expiresIn
        o.maxRetries = maxRetries ?? fallback.maxRetries
        o.backoff = backoff ?? fallback.backoff
        o.softTimeLimit = softTimeLimit ?? fallback.softTimeLimit
        o.timeLimit = timeLimit ?? fallback.timeLimit
        o.uniqueKey = uniqueKey ?? fallback.uniqueKey
        o.uniqueTTL = uniqueTTL ?? fallback.uniqueTTL
        o.resultTTL = resultTTL ?? fallback.resultTTL
        o.replication = replication ?? fallback.replication
        o.encrypted = encrypted ?? fallback.encrypted
        o.headers = fallback.headers.merging(headers) { _, mine in mine }
        return o
    }
}
