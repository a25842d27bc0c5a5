import Foundation
import KaleRedis
import Synchronization
import Tracing

extension KaleClient {
    /// Tasks per transaction in a batch: large enough that the transaction's own cost
    /// vanishes, small enough that one EXEC holds Redis for well under a millisecond.
    static let batchChunk = 256

    /// Enqueues many typed tasks in one round trip.
    ///
    /// Each task is created atomically on its own; the batch as a whole is not a
    /// transaction (a unique key may turn some into references to existing tasks).
    /// - Throws: ``KaleError`` for the first input that cannot be prepared (nothing is sent
    ///   then); ``KaleError`` `.partialBatch` when Redis refused part of the batch after
    ///   creating another part, with ``KaleError/batch`` naming what each input became; else
    ///   the error of the refusal (``RedisError``) when nothing was created. A connection
    ///   lost during the round trip throws ``RedisError`` and any part may have been created.
    public func enqueueBatch<T: TaskDefinition>(_ type: T.Type, _ inputs: [T.Input], options: EnqueueOptions = EnqueueOptions()) async throws -> [TaskHandle<T>] {
        var args: [JSONValue] = []
        args.reserveCapacity(inputs.count)
        for input in inputs {
            do { args.append(try JSONValue(encoding: input)) }
            catch { throw KaleError(.encoding, detail: "input of \(T.name) does not encode as JSON: \(error)") }
        }
        return try await enqueueBatch(name: T.name, args: args, options: options.merged(over: T.defaultOptions))
            .map { TaskHandle(client: self, id: $0.id, queue: $0.queue, created: $0.created) }
    }

    /// Enqueues many tasks by name in one round trip.
    ///
    /// - Throws: as ``enqueueBatch(_:_:options:)``.
    public func enqueueBatch(name: String, args: [JSONValue], options: EnqueueOptions = EnqueueOptions()) async throws -> [TaskRef] {
        guard !args.isEmpty else { return [] }
        precondition(options.id == nil || args.count == 1, "a fixed task id cannot be shared by a batch")
        let now = Broker.now()
        var options = options
        // One producer span for the batch: every task of it carries the same parent.
        let span = TaskTracing.startEnqueue(name: name, queue: options.queue ?? configuration.defaultQueue, count: args.count,
                                            headers: &options.headers)
        defer { span?.end() }
        do {
            return try await submit(try await prepareAll(name: name, args: args, options: options, now: now), options: options, now: now)
        } catch {
            span?.recordError(error)
            span?.setStatus(SpanStatus(code: .error))
            throw error
        }
    }

    /// Creates tasks prepared with the same options (so of one queue) in one round trip.
    ///
    /// Tasks with random ids go as MULTI/EXEC transactions of plain commands, a third of the
    /// enqueue script's Redis time (decisions 0010, 0013). A caller-chosen id needs the
    /// script's check for an existing record; with a unique key every task would compete for
    /// the same key, and the script answers the losers with the owner.
    func submit(_ prepared: [Prepared], options: EnqueueOptions, now: Int64) async throws -> [TaskRef] {
        let queue = prepared[0].envelope.queue
        let announce = registration(for: queue, now: now)
        var commands = announce.map { [$0] } ?? []
        let announcing = announce == nil ? nil : queue
        // Whether this enqueue's `enqueued` event is written (the scripts decide for
        // themselves; a transaction of plain commands cannot): always with recordAllEvents,
        // else while the queue is watched, as this client last saw it. The first enqueue to a
        // queue asks first (one round trip, once: a one-shot `kale enqueue` must know); later
        // ones ask again at most every 5 s, in their own round trip.
        if configuration.eventStreamLength > 0, !configuration.recordAllEvents, !broker.watch.isKnown(queue) {
            let n = try await redis.send("EXISTS", keys.eventWatch(queue)).int
            broker.watch.record(queue, watched: n == 1, at: now)
        }
        let (eventsWanted, askWatch) = enqueueEvents(queue, now: now)
        if askWatch { commands.append(RedisCommand("EXISTS", keys.eventWatch(queue))) }
        let watchAt = commands.count - 1
        let offset = commands.count
        let scripted = options.uniqueKey != nil || options.id != nil
        var chunks: [(range: Range<Int>, multi: Int, exec: Int)] = []
        if scripted {
            commands += prepared.map { broker.enqueueCommand($0.envelope, message: $0.message, uniqueTTL: options.uniqueTTL, now: now,
                                                                 endGroup: options.endGroup) }
        } else {
            for start in stride(from: 0, to: prepared.count, by: Self.batchChunk) {
                let range = start..<min(start + Self.batchChunk, prepared.count)
                let multi = commands.count
                commands += broker.enqueueManyCommands(prepared[start].envelope, prepared[range].map { ($0.envelope.id, $0.message) },
                                                       now: now, event: eventsWanted, endGroup: options.endGroup)
                chunks.append((range, multi, commands.count - 1))
            }
        }
        let replication = options.replication ?? configuration.replication
        if let replication {
            // WAIT covers this connection's own writes. An enqueue that finds its task already
            // there (a retry of one that was not confirmed, maybe from another process) writes
            // nothing, so a write of our own goes first: any replica that has it has the task.
            // INCR, not SET: a producer's ACL may allow it on its keys without letting it
            // overwrite a task record (docs/acl.md).
            if scripted { commands.append(RedisCommand("INCR", keys.replicationBarrier(queue))) }
            commands.append(replication.command)
        }
        let replies = try await send(commands, announcing: announcing)
        if askWatch, let n = replies[watchAt].int { broker.watch.record(queue, watched: n == 1, at: now) }

        var refs = [TaskRef?](repeating: nil, count: prepared.count)
        var refusal: (any Error)?
        if scripted {
            for (i, p) in prepared.enumerated() {
                do { refs[i] = try outcome(of: replies[offset + i], p.envelope, command: commands[offset + i]) }
                catch { refusal = refusal ?? error }
            }
        } else {
            for chunk in chunks {
                if let error = self.refusal(of: replies[chunk.multi...chunk.exec], commands[chunk.multi...chunk.exec], tasks: chunk.range.count) {
                    refusal = refusal ?? error
                    continue
                }
                for i in chunk.range { refs[i] = TaskRef(id: prepared[i].envelope.id, queue: queue, created: true) }
            }
        }
        if let replication, refs.contains(where: { $0 != nil }) || (refusal as? KaleError)?.code == .duplicateID {
            let what = prepared.count == 1 ? "task \(prepared[0].envelope.id)" : "a batch of \(prepared.count) tasks"
            // A duplicate id refers to a task that exists: WAIT covers it too, so a producer
            // that enqueues again after `.notReplicated` learns here that it is now safe.
            try replication.check(replies[replies.count - 1], what: what, queue: queue, batch: prepared.count == 1 ? nil : refs)
        }
        guard let refusal else { return refs.compactMap { $0 } }
        // Nothing written: the refusal says it all, as for a single task.
        guard refs.contains(where: { $0 != nil }) else { throw refusal }
        throw KaleError(.partialBatch, detail: (refusal as? RedisError)?.detail ?? "\(refusal)", queue: queue, batch: refs)
    }

    /// Whether an enqueue to `queue` writes its event, and whether to ask Redis again.
    private func enqueueEvents(_ queue: String, now: Int64) -> (wanted: Bool, ask: Bool) {
        guard configuration.eventStreamLength > 0 else { return (false, false) }
        if configuration.recordAllEvents { return (true, false) }
        return (broker.watch.isWatched(queue), broker.watch.isStale(queue, now: now, maxAge: 5_000))
    }

    /// Sends an enqueue's commands. When they begin with the announcement of `queue` and it
    /// may not have been made, the next enqueue repeats it.
    private func send(_ commands: [RedisCommand], announcing queue: String?) async throws -> [RedisReply] {
        guard let queue else { return try await redis.pipeline(commands) }
        do {
            let replies = try await redis.pipeline(commands)
            if case .error = replies[0] { announceAgain([queue]) }
            return replies
        } catch {
            announceAgain([queue])
            throw error
        }
    }

    /// Why one chunk's transaction wrote nothing (or, for an error inside EXEC, not all of
    /// itself), or nil when every task of it was created.
    ///
    /// A command refused while queued (-OOM, -NOPERM) aborts the whole transaction: EXEC
    /// answers EXECABORT, and the refused command's own reply names the cause. A command
    /// failing inside EXEC (a key of the wrong type) leaves the others done, so the chunk's
    /// records may exist without being queued; it counts as not created.
    private func refusal(of replies: ArraySlice<RedisReply>, _ sent: ArraySlice<RedisCommand>, tasks: Int) -> RedisError? {
        let exec = replies[replies.endIndex - 1]
        if case .error(let message) = exec {
            let cause = zip(sent.dropLast(), replies.dropLast()).lazy.compactMap { command, reply -> RedisError? in
                guard case .error(let m) = reply else { return nil }
                return RedisError(serverReply: m, to: command, user: redis.configuration.url.user)
            }.first
            return cause ?? RedisError(.server, detail: message)
        }
        guard let results = exec.array, results.count >= tasks else {
            return RedisError(.unexpectedReply, detail: "batch transaction returned \(exec) for \(tasks) tasks")
        }
        for case .error(let message) in results {
            return RedisError(.server, detail: "batch transaction: \(message)")
        }
        return nil
    }

    /// Encodes a batch on every core: encoding was a third of a large batch's time, and the
    /// batch must be fully encoded (every input checked) before any of it is sent.
    private func prepareAll(name: String, args: [JSONValue], options: EnqueueOptions, now: Int64) async throws -> [Prepared] {
        // Asked only for a big batch: Foundation reads the cgroup's CPU quota files to answer.
        let slices = args.count >= 2 * Self.batchChunk ? ProcessInfo.processInfo.activeProcessorCount : 1
        guard slices > 1 else { return try args.map { try prepare(name: name, args: $0, options: options, now: now) } }
        let size = (args.count + slices - 1) / slices
        return try await withThrowingTaskGroup(of: (Int, [Prepared]).self) { group in
            for start in stride(from: 0, to: args.count, by: size) {
                let part = args[start..<min(start + size, args.count)]
                group.addTask { (start, try part.map { try self.prepare(name: name, args: $0, options: options, now: now) }) }
            }
            var parts: [(Int, [Prepared])] = []
            for try await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }.flatMap(\.1)
        }
    }
}
