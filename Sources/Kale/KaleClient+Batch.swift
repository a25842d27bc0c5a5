import KaleRedis

extension KaleClient {
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
        var commands = registration(for: Set(prepared.map { $0.envelope.queue }))
        let offset = commands.count
        commands.append(contentsOf: prepared.map { $0.command })
        let replies = try await redis.pipeline(commands)
        return try prepared.enumerated().map { i, p in try outcome(of: replies[offset + i], p.envelope) }
    }
}
