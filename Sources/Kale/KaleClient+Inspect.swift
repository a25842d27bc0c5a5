import Foundation
import KaleRedis

extension KaleClient {
    /// Counts of one queue: pending per priority, scheduled, active, dead, and the
    /// finished-task counters of the last `window`.
    ///
    /// The counters live in 10-second buckets (``QueueStats/bucket``); `window` is rounded
    /// down to whole buckets, the current partial bucket counting as one, so the default
    /// minute covers the last 50 to 60 seconds.
    /// - Throws: ``RedisError``.
    public func stats(of queue: String, window: Duration = .seconds(60), now: Int64 = Broker.now()) async throws -> QueueStats {
        try await stats(of: [queue], window: window, now: now)[0]
    }

    /// ``stats(of:window:now:)`` of several queues (default: every known queue) in one round trip.
    public func stats(of queues: [String]? = nil, window: Duration = .seconds(60), now: Int64 = Broker.now()) async throws -> [QueueStats] {
        let names: [String]
        if let queues { names = queues } else { names = try await self.queues() }
        guard !names.isEmpty else { return [] }
        let bucketMs = QueueStats.bucket.milliseconds
        let current = now / bucketMs
        let bucketCount = max(Int(window.milliseconds / bucketMs), 1)
        let kinds = QueueStats.counterKinds
        // Per queue: 3 LLEN, 3 ZCARD, 1 MGET of kinds × buckets, the pause (all one hash tag, so one slot).
        var commands: [RedisCommand] = []
        for q in names {
            commands += keys.pendingLists(q).map { RedisCommand("LLEN", $0) }
            commands += [keys.scheduled(q), keys.active(q), keys.dead(q)].map { RedisCommand("ZCARD", $0) }
            let counters = kinds.flatMap { kind in
                (0..<bucketCount).map { keys.statsPrefix(q) + kind + ":" + String(current - Int64($0)) }
            }
            commands.append(RedisCommand("MGET", arguments: counters))
            commands.append(RedisCommand("HGET", keys.control(q), "paused"))
        }
        let replies = try await redis.checkedPipeline(commands)
        let perQueue = 8
        return names.enumerated().map { i, q in
            let r = Array(replies[(i * perQueue)..<((i + 1) * perQueue)])
            var pending: [Priority: Int] = [:]
            for (p, reply) in zip(Priority.allCases, r[0..<3]) { pending[p] = reply.int ?? 0 }
            let values = (r[6].array ?? []).map { $0.int ?? 0 }
            var recent: [String: Int] = [:]
            for (k, kind) in kinds.enumerated() {
                recent[kind] = values.dropFirst(k * bucketCount).prefix(bucketCount).reduce(0, +)
            }
            return QueueStats(queue: q, pending: pending, scheduled: r[3].int ?? 0, active: r[4].int ?? 0,
                              dead: r[5].int ?? 0, recent: recent,
                              window: .milliseconds(Int64(bucketCount) * bucketMs),
                              pausedAt: r[7].string.flatMap { Int64($0) })
        }
    }

    /// The live workers, by id.
    ///
    /// A worker whose registry hash has expired (it stopped heartbeating without
    /// deregistering, e.g. SIGKILL) is left out; its stale entry in the worker set is not
    /// removed here, so inspecting never writes.
    /// - Throws: ``RedisError``.
    public func workers() async throws -> [WorkerInfo] {
        let ids = try await redis.send("ZRANGE", keys.workers, 0, -1).strings ?? []
        guard !ids.isEmpty else { return [] }
        let replies = try await redis.pipeline(ids.map { RedisCommand("HGETALL", keys.worker($0)) })
        return zip(ids, replies).compactMap { id, reply in WorkerInfo(id: id, fields: reply.hash ?? [:]) }
            .sorted { $0.id < $1.id }
    }
}
