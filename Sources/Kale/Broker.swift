import Foundation
public import KaleRedis

/// The state transitions of tasks in Redis, one method per Lua script.
///
/// Shared by the producer (``KaleClient``) and the worker, so both speak to Redis in exactly
/// the same way. Every method passes the caller's clock to its script.
public struct Broker: Sendable {
    public let redis: RedisClient
    public let configuration: KaleConfiguration
    /// Which queues are watched, for the observation argument's event mode.
    public let watch = EventWatch()
    public var keys: Keys { configuration.keys }

    public init(redis: RedisClient, configuration: KaleConfiguration) {
        self.redis = redis
        self.configuration = configuration
    }

    /// Milliseconds since 1970 by this machine's clock.
    public static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    private var ttlMs: Int64 { configuration.resultTTL.milliseconds }

    /// The scripts' observation argument for `queue`: `<queue prefix>|<history 0/1>|<event
    /// stream length>|<a: every event, w: not the frequent ones>` (`a` with recordAllEvents or
    /// while the queue is watched, ``watch``). One argument
    /// carries the switches and the prefix of the keys they name (stats, history, events, the
    /// watch mark), so turning history or events on adds no argument to any transition.
    public func observation(_ queue: String) -> String {
        keys.queuePrefix(queue) + (configuration.history ? "|1|" : "|0|") + String(configuration.eventStreamLength)
            + (configuration.recordAllEvents || watch.isWatched(queue) ? "|a" : "|w") + (cluster ? "c" : "")
    }
    private var cluster: Bool { configuration.redis.url.isCluster }
    /// What the scripts put before a task id to name its done channel: on a cluster a shard
    /// channel in the queue's slot (they SPUBLISH there), else the classic channel.
    func donePrefix(_ queue: String) -> String { cluster ? keys.shardDoneChannel(queue, "") : keys.doneChannel("") }
    private var deadAgeMs: Int64 { configuration.deadSetMaxAge.milliseconds }

    // MARK: Producer side

    /// The EVALSHA that creates `envelope` (encoded as `message`).
    public func enqueueCommand(_ envelope: Envelope, message: [UInt8], uniqueTTL: Duration?, now: Int64,
                               endGroup: String? = nil) -> RedisCommand {
        let (k, a) = creation(envelope, message: message, uniqueTTL: uniqueTTL, now: now, endGroup: endGroup)
        return Scripts.enqueue.command(keys: k, arguments: a)
    }

    /// The KEYS and ARGV of a task's creation (``Scripts/enqueue``; ``Scripts/fire`` has them
    /// after keys and arguments of its own).
    func creation(_ envelope: Envelope, message: [UInt8], uniqueTTL: Duration?, now: Int64,
                  workflowStep: String? = nil, endGroup: String? = nil) -> (keys: [String], arguments: [any RedisArgument]) {
        let q = envelope.queue
        let unique = envelope.uniqueKey.map { keys.unique(q, $0) } ?? keys.task(q, envelope.id)
        var arguments: [any RedisArgument] = [
            envelope.id, message, now, envelope.eta ?? 0, envelope.priority.rank, envelope.maxRetries,
            envelope.expiresAt ?? 0, envelope.resultTTLMs ?? ttlMs,
            envelope.uniqueKey == nil ? 0 : (uniqueTTL ?? .seconds(3600)).milliseconds, envelope.name, observation(q),
        ]
        if let workflowStep { arguments.append(workflowStep) }
        if let endGroup { Self.place([endGroup], in: &arguments, at: 13) }
        return ([keys.task(q, envelope.id), keys.pending(q, envelope.priority), keys.scheduled(q), keys.notify(q), unique], arguments)
    }

    /// The commands that create tasks which share everything but their id and message (one
    /// batch chunk: same queue, priority and options), as one MULTI/EXEC transaction.
    ///
    /// A script per chunk spent more of Redis' time turning arguments into Lua strings and
    /// back than on the HSETs themselves; plain commands in a transaction are as atomic (the
    /// chunk is created whole or not at all) at half the cost. The records are those the
    /// ``Scripts/enqueue`` script writes. There is no check for an existing record: batch
    /// ids are fresh random UUIDs (a caller-chosen id goes through the script instead).
    /// Keep chunks to a few hundred tasks: EXEC holds Redis for the whole chunk.
    /// `event`: also write the chunk's `enqueued` event (the caller decides, see
    /// ``KaleConfiguration/recordAllEvents``).
    public func enqueueManyCommands(_ first: Envelope, _ items: [(id: String, message: [UInt8])], now: Int64,
                                    event: Bool = true, endGroup: String? = nil) -> [RedisCommand] {
        let q = first.queue
        let due = first.eta ?? 0
        let state = due > now ? "scheduled" : "pending"
        var fields: [any RedisArgument] = [
            "state", state, "prio", first.priority.rank, "max_retries", first.maxRetries, "enqueued_at", now,
            "ttl", first.resultTTLMs ?? ttlMs, "name", first.name,
        ]
        if let expiresAt = first.expiresAt { fields += ["expires_at", expiresAt] }
        if let endGroup { fields += ["ends", endGroup] }
        let shared = RedisCommand("HSET", arguments: fields).arguments.dropFirst()
        var commands = [RedisCommand("MULTI")]
        commands.reserveCapacity(items.count + 4)
        for item in items {
            var hset = RedisCommand("HSET", keys.task(q, item.id), "msg", item.message)
            hset.arguments += shared
            commands.append(hset)
        }
        if state == "scheduled" {
            commands.append(RedisCommand("ZADD", arguments: [keys.scheduled(q)] + items.flatMap { [due, $0.id] as [any RedisArgument] }))
        } else {
            commands.append(RedisCommand("LPUSH", arguments: [keys.pending(q, first.priority)] + items.map { $0.id as any RedisArgument }))
            commands.append(RedisCommand("LPUSH", arguments: [keys.notify(q)] + Array(repeating: "1" as any RedisArgument, count: items.count)))
        }
        // One history count and one event per chunk, not per task: a batch is one act of its
        // producer, and per-task entries would double the commands of a batch.
        if configuration.history {
            let minute = keys.history(q, minute: now / 60_000)
            commands.append(RedisCommand("HINCRBY", minute, "enqueued::", items.count))
            commands.append(RedisCommand("PEXPIRE", minute, 90_000_000))
        }
        if event, configuration.eventStreamLength > 0 {
            commands.append(RedisCommand("XADD", keys.events(q), "MAXLEN", "~", configuration.eventStreamLength, "*",
                                         "k", "enqueued", "i", items.first?.id ?? first.id, "n", first.name, "c", items.count))
        }
        commands.append(RedisCommand("EXEC"))
        return commands
    }

    /// Cancels a task that has not started, or asks the worker running it to stop.
    public func cancel(id: String, queue: String) async throws -> String {
        let reply = try await redis.run(
            Scripts.cancel,
            keys: [keys.task(queue, id), keys.scheduled(queue)] + keys.pendingLists(queue),
            arguments: [id, Broker.now(), donePrefix(queue), observation(queue), ttlMs, keys.cancelChannel])
        return reply.string ?? "missing"
    }

    /// The record of task `id` in `queue`, or nil when there is none.
    public func info(id: String, queue: String) async throws -> TaskInfo? {
        let fields = try await redis.send("HGETALL", keys.task(queue, id)).hash ?? [:]
        return TaskInfo(id: id, queue: queue, fields: fields)
    }

    // MARK: Worker side

    /// Leases up to `count` tasks of `queue` to `worker` until `leaseDeadline` (ms), under the
    /// lease token `lease` (new for every fetch). With `now` 0 the script takes Redis' clock
    /// and `leaseDeadline` is the lease's length (a fetch sent ahead of time, behind a
    /// blocking command).
    public func fetch(queue: String, worker: String, lease: String, count: Int, leaseDeadline: Int64, now: Int64) -> RedisCommand {
        Scripts.fetch.command(
            keys: keys.pendingLists(queue) + [keys.active(queue), keys.notify(queue), keys.dead(queue),
                                               keys.control(queue), keys.scheduled(queue)],
            arguments: [
                now, leaseDeadline, worker, count, configuration.maxMessageSize, keys.taskPrefix(queue),
                donePrefix(queue), observation(queue), configuration.deadSetMaxSize, deadAgeMs, ttlMs, lease,
            ])
    }

    /// Whether a fetch reply says the queue is paused (``Scripts/fetch`` leased nothing).
    public static func isPaused(_ reply: RedisReply) -> Bool { reply.int == -1 }

    /// Parses a fetch reply (sent with lease token `lease`) into leased tasks.
    public static func leased(from reply: RedisReply, queue: String, lease: String) -> [LeasedTask] {
        guard let items = reply.array else { return [] }
        var out: [LeasedTask] = []
        out.reserveCapacity(items.count / 4)
        var i = 0
        while i + 3 < items.count {
            var task = LeasedTask(id: items[i].string ?? "", queue: queue, lease: lease,
                                  message: items[i + 1].bytes ?? [], attempt: items[i + 2].int ?? 1)
            task.readyAt = items[i + 3].int.map(Int64.init)
            out.append(task)
            i += 4
        }
        return out
    }

    /// The command that counts the attempt of a leased task as its runner takes it.
    public func startCommand(_ task: LeasedTask, worker: String, now: Int64) -> RedisCommand {
        Scripts.start.command(
            keys: [keys.task(task.queue, task.id)],
            arguments: [task.id, worker, task.lease, task.attempt, now, observation(task.queue)])
    }

    /// The command recording `result` for a leased task whose run began at `startedAt` (ms);
    /// with `next` (a task of the same queue), it also counts the start of that task's run, so
    /// a busy runner spends one script call per task (see ``outcome(of:)``).
    /// `forward` are (list, message) pairs pushed in the same step when the result is recorded
    /// (the Celery messages that follow a bridged task); `resultSignature` is kept beside the
    /// result (a workflow step's, checked before the result feeds the next step).
    public func succeedCommand(_ task: LeasedTask, worker: String, result: [UInt8], startedAt: Int64, now: Int64,
                               thenStart next: LeasedTask? = nil, forward: [Forward] = [],
                               resultSignature: String? = nil) -> RedisCommand {
        var scriptKeys = [keys.task(task.queue, task.id), keys.active(task.queue)]
        var arguments: [any RedisArgument] = [task.id, worker, task.lease, now, result, ttlMs, donePrefix(task.queue),
                                              observation(task.queue), task.attempt, startedAt]
        fold(next, of: task, into: &scriptKeys, &arguments)
        if let resultSignature { Self.place([resultSignature], in: &arguments, at: 14) }
        Self.place(forward.flatMap { [$0.list, $0.message] as [any RedisArgument] }, in: &arguments, at: 15)
        return Scripts.succeed.command(keys: scriptKeys, arguments: arguments)
    }

    /// A message pushed (LPUSH) onto a list in the same step as a transition.
    public struct Forward: Sendable, Hashable {
        public var list: String
        public var message: [UInt8]
        public init(list: String, message: [UInt8]) { self.list = list; self.message = message }
    }

    /// Puts `values` at ARGV position `position` (1-based), padding the optional arguments
    /// before it that were not given (a folded start, a signature) with empty strings.
    private static func place(_ values: [any RedisArgument], in arguments: inout [any RedisArgument], at position: Int) {
        guard !values.isEmpty else { return }
        while arguments.count < position - 1 { arguments.append("") }
        arguments += values
    }

    /// Adds the start of `next` to a transition of `task`'s lease; only within one queue, whose
    /// keys share a hash tag (one slot on a cluster).
    private func fold(_ next: LeasedTask?, of task: LeasedTask, into scriptKeys: inout [String], _ arguments: inout [any RedisArgument]) {
        guard let next else { return }
        precondition(next.queue == task.queue, "a start is folded only into a transition of the same queue")
        scriptKeys.append(keys.task(next.queue, next.id))
        arguments += [next.id, next.lease, next.attempt] as [any RedisArgument]
    }

    /// Splits the reply of a succeed or fail that may carry a folded start: the transition's
    /// result, and the start's (nil when none was folded).
    public static func outcome(of reply: RedisReply) -> (result: Int?, start: Int?) {
        if let parts = reply.array { return (parts.first?.int, parts.count > 1 ? parts[1].int : nil) }
        return (reply.int, nil)
    }

    /// The command recording a failed run; `retryAt` nil means do not retry. With `startedAt`
    /// nil (a message rejected, or cancelled, before it ran) no attempt is spent.
    public func failCommand(_ task: LeasedTask, worker: String, failure: TaskFailure, retryAt: Int64?, cancelled: Bool,
                            startedAt: Int64?, now: Int64, thenStart next: LeasedTask? = nil,
                            forward: [Forward] = []) -> RedisCommand {
        let error = (try? JSONEncoder().encode(failure)).map { Array($0) } ?? Array(#"{"kind":"error"}"#.utf8)
        let q = task.queue
        var scriptKeys = [keys.task(q, task.id), keys.active(q), keys.scheduled(q), keys.dead(q)]
        var arguments: [any RedisArgument] = [
            task.id, worker, task.lease, now, error, retryAt ?? -1, cancelled ? "cancel" : "fail", ttlMs,
            configuration.deadSetMaxSize, deadAgeMs, keys.taskPrefix(q), donePrefix(q), observation(q),
            startedAt == nil ? 0 : task.attempt, startedAt ?? 0,
        ]
        fold(next, of: task, into: &scriptKeys, &arguments)
        Self.place(forward.flatMap { [$0.list, $0.message] as [any RedisArgument] }, in: &arguments, at: 19)
        return Scripts.fail.command(keys: scriptKeys, arguments: arguments)
    }

    /// The command giving a leased task back to its queue at once, uncounted (shutdown, or a
    /// runner that could not take it).
    public func requeueCommand(_ task: LeasedTask, worker: String, now: Int64) -> RedisCommand {
        let q = task.queue
        return Scripts.requeue.command(
            keys: [keys.task(q, task.id), keys.active(q)] + keys.pendingLists(q) + [keys.notify(q)],
            arguments: [task.id, worker, task.lease, task.attempt - 1, now, donePrefix(q), observation(q), ttlMs])
    }

    /// The command recording progress of a running task (a JSON object with `fraction` and
    /// `message`), refused by Redis once the lease is lost.
    public func progressCommand(_ task: LeasedTask, worker: String, fraction: Double, message: String?) -> RedisCommand {
        var object: [String: JSONValue] = ["fraction": .number(fraction)]
        if let message { object["message"] = .string(message) }
        return Scripts.progress.command(
            keys: [keys.task(task.queue, task.id), keys.active(task.queue)],
            arguments: [task.id, worker, task.lease, JSONValue.object(object).jsonString])
    }

    /// Extends the leases of `tasks` (all of `queue`); returns the positions in `tasks` whose
    /// lease was lost and those with a cancel request.
    public func extend(queue: String, tasks: [LeasedTask], worker: String, leaseDeadline: Int64) async throws -> (lost: [Int], cancel: [Int]) {
        guard !tasks.isEmpty else { return ([], []) }
        var arguments: [any RedisArgument] = [leaseDeadline, worker, keys.taskPrefix(queue)]
        arguments.reserveCapacity(3 + tasks.count * 2)
        for t in tasks { arguments += [t.id, t.lease] as [any RedisArgument] }
        let reply = try await redis.run(Scripts.extend, keys: [keys.active(queue)], arguments: arguments)
        let parts = reply.array ?? []
        func positions(_ r: RedisReply?) -> [Int] { (r?.array ?? []).compactMap(\.int).map { $0 - 1 } }
        return (positions(parts.first), positions(parts.count > 1 ? parts[1] : nil))
    }

    /// What a reap of one queue did.
    public struct Reaped: Sendable {
        public var requeued = 0, dead = 0, cancelled = 0
        /// Ids of tasks whose run was lost (they had started): each will run again.
        public var lostRuns: [String] = []
    }

    /// Returns expired leases of `queue` to pending (or dead, or cancelled).
    public func reap(queue: String, limit: Int = 500) async throws -> Reaped {
        let reply = try await redis.run(
            Scripts.reap,
            keys: [keys.active(queue)] + keys.pendingLists(queue) + [keys.notify(queue), keys.dead(queue)],
            arguments: [Broker.now(), limit, keys.taskPrefix(queue), donePrefix(queue), observation(queue),
                        configuration.deadSetMaxSize, deadAgeMs, ttlMs])
        let a = reply.array ?? []
        func int(_ i: Int) -> Int { a.count > i ? a[i].int ?? 0 : 0 }
        return Reaped(requeued: int(0), dead: int(1), cancelled: int(2), lostRuns: a.count > 3 ? a[3].strings ?? [] : [])
    }

    /// The command that takes up to `limit` Celery messages of `queue` over from kombu's lists
    /// (`buckets`: each list with its priority step, highest priority first) into Kale tasks,
    /// reading `intake` (Kale's list of moved messages) first; see ``Scripts/celeryIntake``.
    /// Its reply is {taken, scheduled, ended at once}.
    public func celeryIntakeCommand(queue: String, buckets: [(list: String, step: Int)], intake: String, resultKeyPrefix: String,
                                    resultExpires: Int, maxRetries: Int, limit: Int, now: Int64) -> RedisCommand {
        Scripts.celeryIntake.command(
            keys: [intake] + keys.pendingLists(queue) + [keys.scheduled(queue), keys.notify(queue), keys.dead(queue)]
                + buckets.map(\.list),
            arguments: [now, limit, keys.taskPrefix(queue), donePrefix(queue), observation(queue),
                        configuration.deadSetMaxSize, deadAgeMs, ttlMs, resultKeyPrefix, resultExpires,
                        configuration.maxMessageSize, maxRetries] + buckets.map { $0.step as any RedisArgument })
    }

    /// The command writing Celery result `json` at `key` (never over a SUCCESS), published on
    /// the key; for a task the bridge answers without a record of its own.
    public func celeryResultCommand(key: String, json: [UInt8], expires: Int) -> RedisCommand {
        Scripts.celeryResult.command(keys: [key], arguments: [json, expires])
    }

    /// Copies limit definitions of version `version` (task name -> ``TaskLimits/spec``) into
    /// `queue`'s control hash; true when it was older.
    @discardableResult
    public func syncLimits(queue: String, version: Int, specs: [(name: String, spec: String)]) async throws -> Bool {
        let reply = try await redis.run(Scripts.syncLimits, keys: [keys.control(queue)],
                                        arguments: [version] + specs.flatMap { [$0.name, $0.spec] as [any RedisArgument] })
        return reply.int == 1
    }

    /// Takes up to `limit` ended workflow steps of `queue` from its outbox, hidden for `lease`
    /// ms (``Scripts/workflowTake``); returns their task ids.
    public func takeWorkflowOutbox(queue: String, lease: Int64, limit: Int) async throws -> [String] {
        try await redis.run(Scripts.workflowTake, keys: [keys.workflowOutbox(queue)], arguments: [Broker.now(), lease, limit]).strings ?? []
    }

    /// Promotes due scheduled tasks of `queue`; returns how many, and when the next is due (ms).
    public func promote(queue: String, limit: Int = 1000) async throws -> (promoted: Int, nextDue: Int64?) {
        let reply = try await redis.run(
            Scripts.promote,
            keys: [keys.scheduled(queue)] + keys.pendingLists(queue) + [keys.notify(queue)],
            arguments: [Broker.now(), limit, keys.taskPrefix(queue), donePrefix(queue), observation(queue), ttlMs])
        let a = reply.array ?? []
        let next = a.count > 1 ? a[1].int ?? -1 : -1
        return (a.first?.int ?? 0, next < 0 ? nil : Int64(next))
    }
}

/// A task leased to a worker: what the fetch script returned.
public struct LeasedTask: Sendable, Hashable {
    public let id: String
    public var queue: String
    /// The lease's token: new for every fetch, checked by every script that acts on the task.
    public let lease: String
    /// Names this lease among everything a worker holds: the same task may be held twice
    /// (an earlier lease lapsed and the task came back), but never under the same token.
    /// Stored, not computed: the worker looks its leases up by it several times per task.
    public let key: String

    /// Separates the id from the token in ``key``: a control character, which ids never hold.
    static let keySeparator: Character = "\u{1F}"

    /// The task id in a lease ``key``.
    public static func taskID(inKey key: String) -> Substring { key.prefix { $0 != keySeparator } }
    /// The message as stored, not yet decoded (decoding may fail: that is a dead letter).
    public var message: [UInt8]
    /// The attempt this lease runs, should it start (1 for the first run).
    public var attempt: Int
    /// Since when the task could run (ms): its enqueue, or its delay's end, or a retry from
    /// the dead set; nil when unknown. The start of its wait.
    public var readyAt: Int64?

    public init(id: String, queue: String, lease: String, message: [UInt8], attempt: Int) {
        self.id = id
        self.queue = queue
        self.lease = lease
        key = id + String(Self.keySeparator) + lease
        self.message = message
        self.attempt = attempt
    }
}
