import Foundation
import KaleRedis

extension KaleClient {
    /// The newest entries of the dead sets, newest first.
    ///
    /// - Parameters:
    ///   - queue: one queue, or nil for every known queue.
    ///   - limit: the most entries returned in all.
    /// - Throws: ``RedisError``.
    public func deadTasks(queue: String? = nil, limit: Int = 100) async throws -> [DeadTask] {
        guard limit > 0 else { return [] }
        let names = try await queueNames(queue)
        guard !names.isEmpty else { return [] }
        let ranges = try await redis.checkedPipeline(names.map { RedisCommand("ZREVRANGE", keys.dead($0), 0, limit - 1, "WITHSCORES") })
        var entries: [(queue: String, id: String, ms: Double)] = []
        for (q, reply) in zip(names, ranges) {
            let items = reply.strings ?? []
            for i in stride(from: 0, to: items.count - 1, by: 2) { entries.append((q, items[i], Double(items[i + 1]) ?? 0)) }
        }
        entries.sort { $0.ms > $1.ms }
        entries = Array(entries.prefix(limit))
        guard !entries.isEmpty else { return [] }
        let records = try await redis.pipeline(entries.map { RedisCommand("HMGET", keys.task($0.queue, $0.id), "name", "attempt", "error") })
        return zip(entries, records).map { e, reply in
            let f = reply.array ?? []
            let error = f.count > 2 ? f[2].string.flatMap { try? JSONDecoder().decode(TaskFailure.self, from: Data($0.utf8)) } : nil
            return DeadTask(id: e.id, queue: e.queue, name: f.first?.string ?? "", diedAt: Date(timeIntervalSince1970: e.ms / 1000),
                            attempts: f.count > 1 ? f[1].int ?? 0 : 0, error: error)
        }
    }

    /// Sends one dead task back to its queue for a fresh set of attempts.
    ///
    /// - Parameter queue: its queue; nil searches every known queue's dead set.
    /// - Returns: the queue it was requeued to, or nil when it is in no dead set.
    /// - Throws: ``RedisError``.
    public func retryDead(id: String, queue: String? = nil) async throws -> String? {
        let names = try await queueNames(queue)
        guard !names.isEmpty else { return nil }
        let scores = try await redis.pipeline(names.map { RedisCommand("ZSCORE", keys.dead($0), id) })
        guard let q = zip(names, scores).first(where: { !$0.1.isNull })?.0 else { return nil }
        let reply = try await redis.send(deadRetryCommand(id: id, queue: q))
        return reply.int == 1 ? q : nil
    }

    /// Sends every task in the dead sets back to its queue.
    ///
    /// Takes a snapshot of each dead set first, so tasks that die while this runs stay dead.
    /// - Parameter queue: one queue, or nil for every known queue.
    /// - Returns: the tasks requeued.
    /// - Throws: ``RedisError``.
    public func retryAllDead(queue: String? = nil) async throws -> [TaskRef] {
        var out: [TaskRef] = []
        for q in try await queueNames(queue) {
            let ids = try await redis.send("ZRANGE", keys.dead(q), 0, -1).strings ?? []
            for start in stride(from: 0, to: ids.count, by: 1000) {
                let chunk = Array(ids[start..<min(start + 1000, ids.count)])
                let replies = try await redis.checkedPipeline(chunk.map { deadRetryCommand(id: $0, queue: q) })
                for (id, reply) in zip(chunk, replies) {
                    if reply.int == 1 { out.append(TaskRef(id: id, queue: q, created: false)) }
                }
            }
        }
        return out
    }

    /// Deletes the dead tasks and their records.
    ///
    /// - Parameter queue: one queue, or nil for every known queue.
    /// - Returns: how many were deleted, per queue.
    /// - Throws: ``RedisError``.
    public func purgeDead(queue: String? = nil) async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for q in try await queueNames(queue) {
            out[q] = try await drain(Scripts.deadPurge, keys: [keys.dead(q)], prefix: keys.taskPrefix(q))
        }
        return out
    }

    /// Deletes every waiting task (pending and scheduled) of `queue` with its record.
    ///
    /// Running tasks finish normally and dead tasks stay (see ``purgeDead(queue:)``).
    /// - Returns: how many were deleted.
    /// - Throws: ``KaleError`` `.invalidOptions` for a bad queue name, ``RedisError``.
    public func purge(queue: String) async throws -> Int {
        try KaleClient.checkQueueName(queue)
        return try await drain(Scripts.purgeQueue, keys: keys.pendingLists(queue) + [keys.scheduled(queue), keys.notify(queue)],
                               prefix: keys.taskPrefix(queue))
    }

    /// Runs a deleting script in steps of 1,000 until it deletes nothing, so no single call
    /// blocks Redis for long.
    private func drain(_ script: RedisScript, keys: [String], prefix: String) async throws -> Int {
        var total = 0
        while true {
            let n = try await redis.run(script, keys: keys, arguments: [1000, prefix]).int ?? 0
            total += n
            if n == 0 { return total }
        }
    }

    func deadRetryCommand(id: String, queue q: String) -> RedisCommand {
        Scripts.deadRetry.command(keys: [keys.dead(q), keys.task(q, id)] + keys.pendingLists(q) + [keys.notify(q)],
                                  arguments: [id, Broker.now()])
    }

    private func queueNames(_ queue: String?) async throws -> [String] {
        if let queue { return [queue] }
        return try await searchableQueues()
    }
}
