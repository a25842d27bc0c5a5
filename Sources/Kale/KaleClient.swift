import Foundation
public import KaleRedis
import Synchronization
import Tracing

/// The producer: enqueues tasks, looks them up, cancels them and awaits their results.
///
/// One client per process is enough; it is `Sendable` and keeps a small pool of Redis
/// connections (``RedisConfiguration/poolSize``) plus one pub/sub connection, opened on the
/// first await, that all waits share.
public final class KaleClient: Sendable {
    public let configuration: KaleConfiguration
    public let redis: RedisClient
    public let broker: Broker
    /// When this client last announced each queue in the registry (ms since 1970; 0 for
    /// "announce it with the next enqueue").
    private let announcedQueues = Mutex<[String: Int64]>([:])
    private let waiterBox = Mutex<ResultWaiter?>(nil)
    /// Trees of workflows this client forwarded lately (``forwardWorkflowStep(_:queue:defaults:)``).
    let workflowTrees = WorkflowTreeCache()

    public init(configuration: KaleConfiguration) {
        self.configuration = configuration
        redis = RedisClient(configuration: configuration.redis)
        broker = Broker(redis: redis, configuration: configuration)
    }

    /// A client that shares `redis` (a worker's connections) instead of opening its own.
    public init(configuration: KaleConfiguration, sharing redis: RedisClient) {
        self.configuration = configuration
        self.redis = redis
        broker = Broker(redis: redis, configuration: configuration)
    }

    /// A client for `url` with default settings.
    public convenience init(url: RedisURL) {
        self.init(configuration: KaleConfiguration(redis: RedisConfiguration(url: url)))
    }

    deinit {
        // The RedisClient closes itself when its last user lets go; someone may still hold
        // `redis` after the KaleClient is gone.
        waiterBox.withLock { $0?.shutdown() }
    }

    /// Closes the connections; calls made afterwards fail.
    public func close() {
        redis.close()
        waiterBox.withLock { $0?.shutdown() }
    }

    var keys: Keys { configuration.keys }

    // MARK: Enqueue

    /// Enqueues one typed task.
    ///
    /// - Returns: a handle to look up, await or cancel it. With a unique key that is already
    ///   held, the handle names the existing task and ``TaskHandle/created`` is false.
    /// - Throws: ``KaleError`` (`.payloadTooLarge`, `.invalidOptions`, `.encoding`,
    ///   `.duplicateID`) or ``RedisError``.
    public func enqueue<T: TaskDefinition>(_ type: T.Type, _ input: T.Input, options: EnqueueOptions = EnqueueOptions()) async throws -> TaskHandle<T> {
        let args: JSONValue
        do { args = try JSONValue(encoding: input) }
        catch { throw KaleError(.encoding, detail: "input of \(T.name) does not encode as JSON: \(error)") }
        let ref = try await enqueue(name: T.name, args: args, options: options.merged(over: T.defaultOptions))
        return TaskHandle(client: self, id: ref.id, queue: ref.queue, created: ref.created)
    }

    /// Enqueues a task by name with JSON arguments (for the CLI and other languages).
    ///
    /// - Throws: as ``enqueue(_:_:options:)``.
    public func enqueue(name: String, args: JSONValue, options: EnqueueOptions = EnqueueOptions()) async throws -> TaskRef {
        let now = Broker.now()
        var options = options
        let span = TaskTracing.startEnqueue(name: name, queue: options.queue ?? configuration.defaultQueue, count: 1,
                                            headers: &options.headers)
        defer { span?.end() }
        do {
            let ref = try await submit([try prepare(name: name, args: args, options: options, now: now)], options: options, now: now)[0]
            span?.attributes["messaging.message.id"] = ref.id
            return ref
        } catch {
            span?.recordError(error)
            span?.setStatus(SpanStatus(code: .error))
            throw error
        }
    }

    /// A task enqueued by name: its id, its queue, and whether this call created it.
    public struct TaskRef: Sendable, Hashable {
        public var id: String
        public var queue: String
        /// False when a unique key was held and `id` names the existing task.
        public var created: Bool

        public init(id: String, queue: String, created: Bool) {
            self.id = id
            self.queue = queue
            self.created = created
        }
    }

    struct Prepared {
        var envelope: Envelope
        var message: [UInt8]
    }

    func prepare(name: String, args: JSONValue, options: EnqueueOptions, now: Int64) throws -> Prepared {
        let queue = options.queue ?? configuration.defaultQueue
        try KaleClient.checkQueueName(queue)
        guard !name.isEmpty else { throw KaleError(.invalidOptions, detail: "task name must not be empty") }
        if let id = options.id, let problem = TaskID.problem(with: id) {
            throw KaleError(.invalidOptions, detail: problem, queue: queue)
        }
        // The group becomes part of a key name, under the same rules as an id.
        if let group = options.endGroup, let problem = TaskID.problem(with: group) {
            throw KaleError(.invalidOptions, detail: "end group: " + problem, queue: queue)
        }
        // A TTL under 1 ms reaches the scripts as 0 or less, which they read as "never expire".
        guard configuration.resultTTL.milliseconds >= 1 else {
            throw KaleError(.invalidOptions, detail: "the client's resultTTL must be at least 1 ms, not \(configuration.resultTTL)")
        }
        if let ttl = options.resultTTL, ttl.milliseconds < 1 {
            throw KaleError(.invalidOptions, detail: "resultTTL must be at least 1 ms, not \(ttl)", queue: queue)
        }
        let maxRetries = options.maxRetries ?? 3
        guard maxRetries >= 0 else { throw KaleError(.invalidOptions, detail: "max retries must be 0 or more, not \(maxRetries)") }
        var eta: Int64?
        if let at = options.eta { eta = Int64((at * 1000).rounded()) }
        else if let delay = options.delay, delay > .zero { eta = now + delay.milliseconds }
        var envelope = Envelope(
            id: options.id ?? TaskID.random(), name: name, queue: queue, args: args, enqueuedAt: now, eta: eta,
            expiresAt: options.expiresIn.map { now + $0.milliseconds }, maxRetries: maxRetries,
            backoff: options.backoff ?? .default, softTimeLimitMs: options.softTimeLimit?.milliseconds,
            timeLimitMs: options.timeLimit?.milliseconds, priority: options.priority ?? .normal,
            uniqueKey: options.uniqueKey, resultTTLMs: options.resultTTL?.milliseconds, headers: options.headers)
        if options.encrypted == true {
            guard configuration.format.encrypts else {
                throw KaleError(.invalidOptions, detail: "task \(name) asks for encryption, but this client holds no keys (set KALE_SIGNING_KEYS)", queue: queue)
            }
            envelope.encrypted = true
        }
        let message: [UInt8]
        do { message = try configuration.format.encode(envelope) }
        catch { throw KaleError(.encoding, detail: "cannot encode task \(name): \(error)") }
        guard message.count <= configuration.maxMessageSize else {
            throw KaleError(.payloadTooLarge, detail: "message of \(message.count) bytes exceeds the limit of \(configuration.maxMessageSize) bytes; pass large data by reference (a path or URL)", queue: queue)
        }
        return Prepared(envelope: envelope, message: message)
    }

    /// How long an announcement of a queue is trusted before an enqueue repeats it (ms).
    ///
    /// The registry lets `kale inspect` and lookups without a queue find tasks. Announcing
    /// once per client for good left a flushed (or edited) registry empty for as long as the
    /// producer ran; checking it would add a round trip to every enqueue. An SADD at most
    /// once a second per queue, riding an enqueue's own round trip, repairs it for every
    /// reader within a second of further enqueues.
    static let registrationLifetimeMs: Int64 = 1000

    /// The SADD announcing `queue`, when this client's last announcement is no longer trusted.
    func registration(for queue: String, now: Int64) -> RedisCommand? {
        let due = announcedQueues.withLock { announced -> Bool in
            // A clock stepped backwards makes an announcement look young for good: repeat it then too.
            if let at = announced[queue], (0..<Self.registrationLifetimeMs).contains(now - at) { return false }
            announced[queue] = now
            return true
        }
        return due ? RedisCommand("SADD", keys.queues, queue) : nil
    }

    /// Makes the next enqueue to `queues` announce them again (its SADD failed, or the
    /// registry lost them). They stay known to this client's lookups meanwhile.
    func announceAgain(_ queues: some Sequence<String>) {
        announcedQueues.withLock { announced in
            for q in queues { announced[q] = 0 }
        }
    }

    /// The registry's queues and, after them, those this client enqueued to that the
    /// registry lacks (it was flushed or edited); those are announced again on the next
    /// enqueue to them.
    func searchableQueues() async throws -> [String] {
        let registered = try await queues()
        let known = Set(registered)
        let lost = announcedQueues.withLock { Array($0.keys) }.filter { !known.contains($0) }.sorted()
        announceAgain(lost)
        return registered + lost
    }

    func outcome(of reply: RedisReply, _ envelope: Envelope, command: RedisCommand) throws -> TaskRef {
        if case .error(let message) = reply {
            if message.contains("DUPLICATE") {
                throw KaleError(.duplicateID, detail: "a task with id \(envelope.id) already exists", taskID: envelope.id, queue: envelope.queue)
            }
            throw RedisError(serverReply: message, to: command, user: redis.configuration.url.user)
        }
        let a = reply.array ?? []
        guard a.count == 2, let id = a[1].string else {
            throw RedisError(.unexpectedReply, detail: "enqueue script returned \(reply)")
        }
        return TaskRef(id: id, queue: envelope.queue, created: a[0].int == 1)
    }

    // MARK: Look up, cancel

    /// The record of a task, or nil when none exists (never enqueued, or expired).
    ///
    /// Without `queue`, every queue in this Redis's registry is searched, and every queue
    /// this client enqueued to (so a task sent after a flush of the registry is found).
    public func status(of id: String, queue: String? = nil) async throws -> TaskInfo? {
        let found: String
        if let queue { found = queue } else {
            guard let queue = try await findQueue(of: id) else { return nil }
            found = queue
        }
        guard var info = try await broker.info(id: id, queue: found) else { return nil }
        // Decrypted when this client holds the key; a reader without it sees EncryptedValue.
        if let result = info.result { info.result = (try? configuration.format.open(result: result, of: id)) ?? result }
        return info
    }

    /// Cancels a task: a waiting one at once, a running one by asking its worker to stop it.
    ///
    /// - Returns: `cancelled`, `requested` (it is running), `missing`, or the state the task
    ///   had already ended in.
    @discardableResult
    public func cancel(id: String, queue: String? = nil) async throws -> String {
        guard let q = try await resolveQueue(queue, of: id) else { return "missing" }
        return try await broker.cancel(id: id, queue: q)
    }

    /// Every queue name enqueued to on this Redis.
    public func queues() async throws -> [String] {
        try await redis.send("SMEMBERS", keys.queues).strings?.sorted() ?? []
    }

    func resolveQueue(_ queue: String?, of id: String) async throws -> String? {
        if let queue { return queue }
        return try await findQueue(of: id)
    }

    func findQueue(of id: String) async throws -> String? {
        let queues = try await searchableQueues()
        guard !queues.isEmpty else { return nil }
        let replies = try await redis.pipeline(queues.map { RedisCommand("EXISTS", keys.task($0, id)) })
        return zip(queues, replies).first { $0.1.int == 1 }?.0
    }

    // MARK: Await

    /// Waits until the task ends and returns its record, woken by Redis pub/sub.
    ///
    /// The timeout starts now and bounds every step, so the wait ends by it even when Redis
    /// stalls (docs/decisions/0015).
    ///
    /// - Throws: ``KaleError`` `.notFound` when no such task exists, `.timeout` when it has
    ///   not ended within `timeout`; ``RedisError`` when Redis fails, or refuses the
    ///   subscription (the detail names the ACL rule the Redis user lacks).
    public func wait(for id: String, queue: String? = nil, timeout: Duration = .seconds(60)) async throws -> TaskInfo {
        let deadline = ContinuousClock.now + timeout
        let timedOut = { (q: String?) in KaleError(.timeout, detail: "the task did not end within \(timeout)", taskID: id, queue: q) }
        // Without a queue, finding it reads Redis, so that read is bounded too.
        let found = if let queue { queue } else { try await ResultWaiter.within(deadline) { try await self.findQueue(of: id) } }
        guard let found else { throw timedOut(queue) }
        guard let q = found else {
            throw KaleError(.notFound, detail: "no task with this id (never enqueued, or its result expired)", taskID: id)
        }
        let broker = self.broker
        let sharded = configuration.redis.url.isCluster
        let channel = sharded ? keys.shardDoneChannel(q, id) : keys.doneChannel(id)
        let info = try await waiter().wait(channel: channel, sharded: sharded, until: deadline) { payload, first async throws -> TaskInfo? in
            // The message of a task that ended is its record: no read needed. Anything else
            // (an older worker's bare state, a reconnect) means read the record.
            if let payload, let info = TaskInfo(id: id, queue: q, published: payload), info.state.isTerminal { return info }
            guard let info = try await broker.info(id: id, queue: q) else {
                // Only the read right after subscribing tells an unknown task; a record that
                // goes later (its result expired) leaves the wait to its deadline.
                if !first { return nil }
                throw KaleError(.notFound, detail: "no task with this id (never enqueued, or its result expired)", taskID: id, queue: q)
            }
            return info.state.isTerminal ? info : nil
        }
        guard var info else { throw timedOut(q) }
        if let result = info.result { info.result = try configuration.format.open(result: result, of: id) }
        return info
    }

    /// Waits for a typed task's output.
    ///
    /// - Throws: ``KaleError`` `.taskFailed` (with the failure) when it did not succeed,
    ///   `.timeout`, `.notFound`, `.encoding`.
    public func result<T: TaskDefinition>(of handle: TaskHandle<T>, timeout: Duration = .seconds(60)) async throws -> T.Output {
        try await wait(for: handle.id, queue: handle.queue, timeout: timeout).output(as: T.Output.self)
    }

    /// Waits on pub/sub channel `channel` (over the client's shared subscriber connection)
    /// until `check` returns a value: `check` runs once the subscription is live (payload nil,
    /// `first` true) and again for every message (and, with nil, after a reconnect). Whatever
    /// `check` publishes on its first call cannot be missed. For waits on channels that are not
    /// Kale's own, such as Celery's result keys.
    ///
    /// - Returns: the value, or nil when `timeout` passed first.
    public func awaitChannel<T: Sendable>(
        _ channel: String, timeout: Duration,
        check: @escaping @Sendable (_ payload: [UInt8]?, _ first: Bool) async throws -> T?
    ) async throws -> T? {
        try await waiter().wait(channel: channel, until: .now + timeout, check: check)
    }

    private func waiter() -> ResultWaiter {
        waiterBox.withLock { box in
            if let w = box { return w }
            var config = configuration.redis
            config.clientName = (config.clientName ?? "kale") + "-results"
            let w = ResultWaiter(configuration: config)
            box = w
            return w
        }
    }
}
