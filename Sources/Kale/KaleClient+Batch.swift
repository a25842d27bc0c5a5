import KaleRedis

extension KaleClient {
    /// Tasks per script call in a batch: large enough that the script call's own cost
    /// vanishes, small enough that one call holds Redis for well under a millisecond.
    static let batchChunk = 256

    /// Enqueues many typed tasks in one round trip.
    ///
    /// Each task is created atomically on its own; the batch as a whole is not a
    /// transaction (a unique key may turn some into references to existing tasks).
    /// - Throws: ``KaleError`` for the first input that cannot be prepared (nothing is sent
    ///   then), or ``RedisError``.
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
    public func enqueueBatch(name: String, args: [JSONValue], options: EnqueueOptions = EnqueueOptions()) async throws -> [TaskRef] {
        guard !args.isEmpty else { return [] }
        precondition(options.id == nil || args.count == 1, "a fixed task id cannot be shared by a batch")
        let now = Broker.now()
        let prepared = try args.map { try prepare(name: name, args: $0, options: options, now: now) }
        var commands = registration(for: [prepared[0].envelope.queue])
        let offset = commands.count
        // With a unique key every task of the batch would compete for the same key: each goes
        // through the single-task script, which answers with the owner for the losers.
        guard options.uniqueKey == nil else {
            commands += prepared.map { broker.enqueueCommand($0.envelope, message: $0.message, uniqueTTL: options.uniqueTTL, now: now) }
            let replies = try await redis.pipeline(commands)
            return try prepared.enumerated().map { i, p in try outcome(of: replies[offset + i], p.envelope) }
        }
        let chunks = stride(from: 0, to: prepared.count, by: Self.batchChunk).map { $0..<min($0 + Self.batchChunk, prepared.count) }
        for chunk in chunks {
            commands.append(broker.enqueueManyCommand(prepared[chunk.lowerBound].envelope,
                                                      prepared[chunk].lazy.map { ($0.envelope.id, $0.message) }, now: now))
        }
        let replies = try await redis.pipeline(commands)
        var refs: [TaskRef] = []
        refs.reserveCapacity(prepared.count)
        for (n, chunk) in chunks.enumerated() {
            let reply = replies[offset + n]
            if case .error(let message) = reply { throw RedisError(.server, detail: message) }
            guard let created = reply.array, created.count == chunk.count else {
                throw RedisError(.unexpectedReply, detail: "enqueueMany returned \(reply) for \(chunk.count) tasks")
            }
            for (p, flag) in zip(prepared[chunk], created) {
                guard flag.int == 1 else {
                    throw KaleError(.duplicateID, detail: "a task with id \(p.envelope.id) already exists", taskID: p.envelope.id, queue: p.envelope.queue)
                }
                refs.append(TaskRef(id: p.envelope.id, queue: p.envelope.queue, created: true))
            }
        }
        return refs
    }
}
