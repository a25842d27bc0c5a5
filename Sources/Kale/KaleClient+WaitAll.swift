import KaleRedis

/// The end of one task of an awaited batch, or how far it got.
public struct AwaitedTask: Sendable {
    public var ref: KaleClient.TaskRef
    /// The record when the wait ended (its result opened); nil when the task no longer exists.
    public var info: TaskInfo?
    /// The wait's deadline passed before the task ended.
    public var timedOut: Bool

    public var succeeded: Bool { !timedOut && info?.state == .succeeded }

    public init(ref: KaleClient.TaskRef, info: TaskInfo?, timedOut: Bool) {
        self.ref = ref
        self.info = info
        self.timedOut = timedOut
    }
}

extension KaleClient {
    /// A fresh name for an end group (``EnqueueOptions/endGroup``).
    public static func newEndGroup() -> String { TaskID.random() }

    /// Ends read from an end stream per round trip: one pipeline of as many record reads follows.
    static let endsPerRead = 1000

    /// How long the wait blocks on an end stream before it looks at the tasks themselves: the
    /// tasks the stream cannot tell about (a record deleted by a purge, a task of another
    /// group) are found by that look.
    static let quietStream: Duration = .seconds(1)

    /// Waits until every task of `refs` has ended, reading the end stream of `endGroup` (the
    /// group they were enqueued with, ``EnqueueOptions/endGroup``).
    ///
    /// One dedicated connection per queue of `refs` blocks on that queue's stream (XREAD, up to
    /// 1,000 ends a round trip) and the records of the tasks it names are read in one pipeline:
    /// no subscription, and no message a reconnect can lose, since the stream outlives the
    /// connection and is read from a cursor. Reads only: a producer allowed to await a batch
    /// is not allowed to take anything from Redis. Whenever the stream stays quiet for a
    /// second the waiter reads the state of the next 1,000 tasks still awaited, in turn, which
    /// finds those the stream never names (a deleted record, a task of another group). A ref that is not
    /// `created` (a unique key answered with an older task, outside the group) is awaited on
    /// its own done channel.
    ///
    /// - Parameters:
    ///   - timeout: nil waits for as long as it takes.
    ///   - onEnd: called once per task as its end is seen (not for those still running at the
    ///     deadline), from any thread.
    /// - Returns: one entry per ref, in the refs' order. A task whose record is gone has
    ///   `info` nil; one still running at the deadline has `timedOut` true and its record then.
    /// - Throws: ``RedisError`` when Redis fails during the wait.
    public func waitAll(_ refs: [TaskRef], endGroup: String, timeout: Duration? = nil,
                        onEnd: (@Sendable (AwaitedTask) -> Void)? = nil) async throws -> [AwaitedTask] {
        // A decade: in effect for ever, and still a deadline that Duration arithmetic can hold.
        let deadline = ContinuousClock.now + (timeout ?? .seconds(10 * 365 * 86_400))
        var byQueue: [String: [String: [Int]]] = [:]
        var older: [(Int, TaskRef)] = []
        for (i, ref) in refs.enumerated() {
            if ref.created { byQueue[ref.queue, default: [:]][ref.id, default: []].append(i) } else { older.append((i, ref)) }
        }
        return try await withThrowingTaskGroup(of: [(Int, AwaitedTask)].self) { group in
            for (queue, ids) in byQueue {
                group.addTask {
                    try await self.awaitEnds(queue: queue, ids: ids, endGroup: endGroup, deadline: deadline, onEnd: onEnd)
                }
            }
            // A task a unique key answered with was enqueued before, outside the group: it is
            // awaited on its own channel. One after the other is as quick as all at once, since
            // they run meanwhile and share the deadline.
            if !older.isEmpty {
                let older = older
                group.addTask {
                    var out: [(Int, AwaitedTask)] = []
                    for (i, ref) in older {
                        let awaited = try await self.awaitOne(ref, deadline: deadline)
                        if !awaited.timedOut { onEnd?(awaited) }
                        out.append((i, awaited))
                    }
                    return out
                }
            }
            var results = [AwaitedTask?](repeating: nil, count: refs.count)
            for try await ended in group { for (i, awaited) in ended { results[i] = awaited } }
            return results.map { $0! }
        }
    }

    /// The wait of ``waitAll(_:endGroup:timeout:onEnd:)`` for the tasks of one queue.
    private func awaitEnds(queue: String, ids: [String: [Int]], endGroup: String, deadline: ContinuousClock.Instant,
                           onEnd: (@Sendable (AwaitedTask) -> Void)?) async throws -> [(Int, AwaitedTask)] {
        var outstanding = ids
        var out: [(Int, AwaitedTask)] = []
        out.reserveCapacity(ids.values.reduce(0) { $0 + $1.count })
        func settle(_ id: String, _ info: TaskInfo?, timedOut: Bool) {
            guard let indexes = outstanding.removeValue(forKey: id) else { return }
            for i in indexes {
                let awaited = AwaitedTask(ref: TaskRef(id: id, queue: queue, created: true), info: info, timedOut: timedOut)
                out.append((i, awaited))
                if !timedOut { onEnd?(awaited) }
            }
        }
        let stream = keys.ends(queue, endGroup)
        var cursor = "0-0"
        // The look at the tasks themselves takes the next 1,000 still awaited in turn, so a
        // quiet second costs a bounded read however large the batch (100,000 long tasks would
        // otherwise be 100,000 HGETs a second): a record deleted under a large batch is found
        // within batch / 1,000 quiet seconds.
        let order = Array(ids.keys)
        var next = 0
        let connection = redis.dedicatedConnection(name: "kale-wait-all")
        defer { connection.close() }
        while !outstanding.isEmpty {
            let remaining = deadline - .now
            guard remaining > .zero else { break }
            let block = min(remaining, Self.quietStream)
            let command = RedisCommand.blocking(block, "XREAD", arguments: ["BLOCK", max(block.milliseconds, 1), "COUNT", Self.endsPerRead,
                                                                             "STREAMS", stream, cursor])
            // Bounded like every wait (decision 0015): a stalled server cannot hold it past the deadline.
            guard let reply = try await ResultWaiter.within(deadline, { try await connection.send(command) }) else { break }
            var read: [String] = []
            for entry in reply.array?.first?.array?.last?.array ?? [] {
                guard let parts = entry.array, parts.count == 2, let id = parts[0].string, let fields = parts[1].strings else { continue }
                cursor = id
                if fields.count == 2, fields[0] == "i" { read.append(fields[1]) }
            }
            if read.isEmpty {
                var slice: [String] = []
                var looked = 0
                while slice.count < Self.endsPerRead, looked < order.count {
                    let id = order[next]
                    next = (next + 1) % order.count
                    looked += 1
                    if outstanding[id] != nil { slice.append(id) }
                }
                for (id, info) in try await endedAmong(slice, queue: queue) { settle(id, info, timedOut: false) }
            } else {
                for (id, info) in try await records(read.filter { outstanding[$0] != nil }, queue: queue) { settle(id, info, timedOut: false) }
            }
        }
        if !outstanding.isEmpty {
            for (id, info) in try await records(Array(outstanding.keys), queue: queue) { settle(id, info, timedOut: true) }
        }
        return out
    }

    /// One task's end by its done channel (``wait(for:queue:timeout:)``), as an ``AwaitedTask``.
    private func awaitOne(_ ref: TaskRef, deadline: ContinuousClock.Instant) async throws -> AwaitedTask {
        do {
            return AwaitedTask(ref: ref, info: try await wait(for: ref.id, queue: ref.queue, timeout: max(deadline - .now, .zero)), timedOut: false)
        } catch let e as KaleError where e.code == .timeout {
            return AwaitedTask(ref: ref, info: try await status(of: ref.id, queue: ref.queue), timedOut: true)
        } catch let e as KaleError where e.code == .notFound {
            return AwaitedTask(ref: ref, info: nil, timedOut: false)
        }
    }

    /// The records of `ids` (nil for one that is gone), results opened.
    private func records(_ ids: [String], queue: String) async throws -> [(String, TaskInfo?)] {
        try await readEach(ids, queue: queue) { RedisCommand("HGETALL", $0) }.map { id, reply in
            guard var info = TaskInfo(id: id, queue: queue, fields: reply.hash ?? [:]) else { return (id, nil) }
            if let result = info.result { info.result = try configuration.format.open(result: result, of: id) }
            return (id, info)
        }
    }

    /// Those of `ids` that ended or are gone, with their records: one HGET of the state each,
    /// then the records of the ended ones.
    private func endedAmong(_ ids: [String], queue: String) async throws -> [(String, TaskInfo?)] {
        let ended = try await readEach(ids, queue: queue) { RedisCommand("HGET", $0, "state") }.filter { _, reply in
            reply.string.map { TaskState(rawValue: $0)?.isTerminal ?? false } ?? true
        }
        return try await records(ended.map(\.0), queue: queue)
    }

    /// One read of each task's record (`command` of its key), a pipeline per 1,000; a server
    /// error is thrown.
    private func readEach(_ ids: [String], queue: String, _ command: (String) -> RedisCommand) async throws -> [(String, RedisReply)] {
        var out: [(String, RedisReply)] = []
        out.reserveCapacity(ids.count)
        for start in stride(from: 0, to: ids.count, by: Self.endsPerRead) {
            let part = ids[start..<min(start + Self.endsPerRead, ids.count)]
            let commands = part.map { command(keys.task(queue, $0)) }
            for (id, (reply, command)) in zip(part, zip(try await redis.pipeline(commands), commands)) {
                out.append((id, try reply.throwingServerError(for: command, user: configuration.redis.url.user)))
            }
        }
        return out
    }
}
