import Foundation
import KaleRedis

extension KaleClient {
    /// Sets the rate limit and concurrency cap of task `name`, fleet-wide, replacing any set
    /// before. Workers apply it within a second (``Keys/limitsVersion``).
    /// - Throws: ``KaleError`` `.invalidOptions` for an empty name or bad values, ``RedisError``.
    public func setLimits(_ limits: TaskLimits, for name: String) async throws {
        guard !name.isEmpty, name.utf8.count <= 200, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw KaleError(.invalidOptions, detail: "task name must be 1-200 bytes without control characters")
        }
        try limits.validate()
        try await changeLimits([RedisCommand("HSET", keys.limits, name, limits.json)])
    }

    /// Removes the limits of task `name`; its tasks run unthrottled within a second.
    /// - Returns: false when it had none.
    /// - Throws: ``RedisError``.
    @discardableResult
    public func clearLimits(for name: String) async throws -> Bool {
        let replies = try await changeLimits([RedisCommand("HDEL", keys.limits, name)])
        return replies.first?.int == 1
    }

    /// Every task's limits, by task name. A definition that does not decode (written by hand)
    /// is left out here and ignored by the workers.
    /// - Throws: ``RedisError``.
    public func limits() async throws -> [String: TaskLimits] {
        let fields = try await redis.send("HGETALL", keys.limits).hash ?? [:]
        var out: [String: TaskLimits] = [:]
        for (name, json) in fields {
            if let l = try? JSONDecoder().decode(TaskLimits.self, from: Data(json.utf8)) { out[name] = l }
        }
        return out
    }

    /// Runs `commands` with a bump of the version, in one transaction; returns their replies.
    @discardableResult
    private func changeLimits(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        let replies = try await redis.checkedPipeline([RedisCommand("MULTI")] + commands + [RedisCommand("INCR", keys.limitsVersion), RedisCommand("EXEC")])
        return Array((replies.last?.array ?? []).dropLast())
    }
}
