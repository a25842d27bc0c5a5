import KaleRedis

extension KaleClient {
    /// Pauses `queue`: from the next fetch on (within a second for every worker), no worker
    /// leases its tasks. Running tasks finish; pending, delayed and retrying ones stay where
    /// they are, and producers can still enqueue.
    ///
    /// The mark is the `paused` field of the queue's control hash, which every fetch reads in
    /// the same script that leases, so no lease is taken after the pause is written.
    /// - Returns: false when the queue was paused already.
    /// - Throws: ``KaleError`` `.invalidOptions` for a bad queue name, ``RedisError``.
    @discardableResult
    public func pause(queue: String) async throws -> Bool {
        try Self.checkQueueName(queue)
        // Registered too, so `kale inspect` lists a queue paused before its first task.
        let replies = try await redis.checkedPipeline([RedisCommand("HSETNX", keys.control(queue), "paused", Broker.now()),
                                                       RedisCommand("SADD", keys.queues, queue)])
        return replies[0].int == 1
    }

    /// Resumes a paused queue; workers lease from it again within a second.
    /// - Returns: false when it was not paused.
    /// - Throws: ``KaleError`` `.invalidOptions` for a bad queue name, ``RedisError``.
    @discardableResult
    public func resume(queue: String) async throws -> Bool {
        try Self.checkQueueName(queue)
        return try await redis.send("HDEL", keys.control(queue), "paused").int == 1
    }

    /// Refuses a queue name that cannot be part of a key: the one check and message of every
    /// call that takes a queue name.
    static func checkQueueName(_ queue: String) throws {
        guard Keys.isValidQueueName(queue) else {
            throw KaleError(.invalidOptions, detail: "queue name '\(queue)' must be 1-200 letters, digits, '.', '_' or '-'")
        }
    }
}
