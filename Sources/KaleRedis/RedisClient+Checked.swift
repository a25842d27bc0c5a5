extension RedisClient {
    /// Sends commands as one pipeline on one connection and throws the first error reply,
    /// as ``send(_:)`` would: a refusal by the ACL names the Redis user and the rule it
    /// lacks (``RedisError/init(serverReply:to:user:context:)``).
    ///
    /// - Throws: ``RedisError`` when the connection fails or a command was refused.
    @discardableResult
    public func checkedPipeline(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        let replies = try await pipeline(commands)
        for (command, reply) in zip(commands, replies) { try reply.throwingServerError(for: command, user: configuration.url.user) }
        return replies
    }
}
