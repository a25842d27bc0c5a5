import Foundation
import KaleRedis

/// What to look for in the dead sets (``KaleClient/searchDead(_:examineLimit:)``); every
/// non-empty field must match, case-insensitively, as a substring.
public struct DeadQuery: Sendable, Hashable {
    /// One queue, or nil for every known queue.
    public var queue: String?
    /// Part of the task name.
    public var name: String?
    /// Part of the error type (`UnknownTask`, `DecodingError`, a Swift error's type …).
    public var errorType: String?
    /// Part of the error message.
    public var text: String?

    public init(queue: String? = nil, name: String? = nil, errorType: String? = nil, text: String? = nil) {
        self.queue = queue
        self.name = name
        self.errorType = errorType
        self.text = text
    }

    /// True when no field filters.
    public var matchesEverything: Bool { [name, errorType, text].allSatisfy { ($0 ?? "").isEmpty } }

    func matches(_ task: DeadTask) -> Bool {
        func has(_ haystack: String?, _ needle: String?) -> Bool {
            guard let needle, !needle.isEmpty else { return true }
            return (haystack ?? "").range(of: needle, options: .caseInsensitive) != nil
        }
        return has(task.name, name) && has(task.error?.type, errorType) && has(task.error?.message, text)
    }
}

/// The dead tasks a ``DeadQuery`` matched, newest first.
public struct DeadSearchResult: Sendable {
    public var matches: [DeadTask]
    /// Dead-set entries looked at.
    public var examined: Int
    /// True when a dead set held more than the examine limit, so its oldest entries were not looked at.
    public var truncated: Bool
}

extension KaleClient {
    /// Searches the dead sets by task name, error type and error text, matched in Swift.
    ///
    /// Bounded: a dead set holds at most ``KaleConfiguration/deadSetMaxSize`` (10,000 by
    /// default) entries, and at most `examineLimit` of each queue's newest are read: their ids
    /// with one ZREVRANGE, then name, attempt and error with HMGET, 500 records per round trip.
    /// - Throws: ``RedisError``.
    public func searchDead(_ query: DeadQuery, examineLimit: Int = 10_000) async throws -> DeadSearchResult {
        let names = if let q = query.queue { [q] } else { try await searchableQueues() }
        var matches: [DeadTask] = []
        var examined = 0
        var truncated = false
        for q in names {
            let reply = try await redis.send("ZREVRANGE", keys.dead(q), 0, max(examineLimit, 1), "WITHSCORES")
            var items = reply.strings ?? []
            if items.count > examineLimit * 2 {
                truncated = true
                items.removeLast(items.count - examineLimit * 2)
            }
            let entries = stride(from: 0, to: items.count - 1, by: 2).map { (id: items[$0], ms: Double(items[$0 + 1]) ?? 0) }
            for start in stride(from: 0, to: entries.count, by: 500) {
                let chunk = entries[start..<min(start + 500, entries.count)]
                let records = try await redis.pipeline(chunk.map { RedisCommand("HMGET", keys.task(q, $0.id), "name", "attempt", "error") })
                for (e, record) in zip(chunk, records) {
                    let f = record.array ?? []
                    let error = f.count > 2 ? f[2].string.flatMap { try? JSONDecoder().decode(TaskFailure.self, from: Data($0.utf8)) } : nil
                    let task = DeadTask(id: e.id, queue: q, name: f.first?.string ?? "", diedAt: Date(timeIntervalSince1970: e.ms / 1000),
                                        attempts: f.count > 1 ? f[1].int ?? 0 : 0, error: error)
                    if query.matches(task) { matches.append(task) }
                }
                examined += chunk.count
            }
        }
        matches.sort { $0.diedAt > $1.diedAt }
        return DeadSearchResult(matches: matches, examined: examined, truncated: truncated)
    }

    /// Sends the named dead tasks back to their queues (as ``retryDead(id:queue:)``), 500 per round trip.
    ///
    /// - Returns: those requeued; an id that has left its dead set meanwhile is skipped.
    /// - Throws: ``RedisError``.
    public func retryDead(_ tasks: [(queue: String, id: String)]) async throws -> [TaskRef] {
        var out: [TaskRef] = []
        for start in stride(from: 0, to: tasks.count, by: 500) {
            let chunk = tasks[start..<min(start + 500, tasks.count)]
            let replies = try await redis.checkedPipeline(chunk.map { deadRetryCommand(id: $0.id, queue: $0.queue) })
            for (t, reply) in zip(chunk, replies) where reply.int == 1 {
                out.append(TaskRef(id: t.id, queue: t.queue, created: false))
            }
        }
        return out
    }

    /// Deletes the named dead tasks with their records, 500 per script call.
    ///
    /// - Returns: how many were deleted; an id that has left its dead set meanwhile is left alone.
    /// - Throws: ``RedisError``.
    public func purgeDead(_ tasks: [(queue: String, id: String)]) async throws -> Int {
        var total = 0
        for (q, group) in Dictionary(grouping: tasks, by: \.queue) {
            let ids = group.map(\.id)
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = ids[start..<min(start + 500, ids.count)].map { $0 as any RedisArgument }
                total += try await redis.run(Scripts.deadPurgeIDs, keys: [keys.dead(q)], arguments: [keys.taskPrefix(q)] + chunk).int ?? 0
            }
        }
        return total
    }

    /// Sends a task that ended `failed` (trimmed from the dead set, record kept) back to its queue.
    ///
    /// - Returns: true when requeued; false when the task is in any other state.
    /// - Throws: ``RedisError``.
    public func retryFailed(id: String, queue: String) async throws -> Bool {
        let reply = try await redis.run(Scripts.failedRetry, keys: [keys.task(queue, id)] + keys.pendingLists(queue) + [keys.notify(queue)],
                                        arguments: [id, Broker.now()])
        return reply.int == 1
    }
}
