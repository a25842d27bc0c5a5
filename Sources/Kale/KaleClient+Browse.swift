public import Foundation
import KaleRedis

/// The states whose task ids a queue keeps in a list or set, so they can be paged through.
public enum BrowseState: String, Sendable, CaseIterable {
    /// The three pending lists, highest priority first, each in fetch order.
    case pending
    /// The scheduled set (delayed tasks and retries), soonest due first.
    case scheduled
    /// The active set (leased tasks), soonest lease deadline first.
    case running
    /// The dead set, newest first.
    case dead
}

/// One page of a queue's tasks in one state (``KaleClient/browse(queue:state:offset:limit:nameContains:examineLimit:)``).
public struct TaskListing: Sendable {
    /// One task of the page.
    public struct Entry: Sendable {
        public var id: String
        /// Its position among the ids of that state (0 is the next to run, or the newest dead).
        public var position: Int
        /// Its score: due time (scheduled), lease deadline (running) or time of death (dead).
        public var score: Date?
        /// Its record; nil when the record is gone (deleted by hand, or expired).
        public var task: TaskInfo?
    }

    public var queue: String
    public var state: BrowseState
    /// Ids in that state right now.
    public var total: Int
    /// The position the page started at.
    public var offset: Int
    public var entries: [Entry]
    /// Ids looked at for this page: the page size without a filter, up to the examine limit with one.
    public var examined: Int
    /// Where the next page starts; nil when nothing follows.
    public var nextOffset: Int?
    /// The name filter, if any.
    public var nameContains: String?
    /// True when a filtered page stopped at the examine limit before it was full.
    public var hitExamineLimit: Bool
}

extension KaleClient {
    /// One page of `queue`'s tasks in `state`, read with LRANGE/ZRANGE at an offset, never the whole list.
    ///
    /// - Parameters:
    ///   - offset: the position to start at (see ``TaskListing/Entry/position``).
    ///   - limit: the page size.
    ///   - nameContains: keep only tasks whose name contains this (case-insensitive). Names are
    ///     read in chunks of 500 ids, and at most `examineLimit` ids are looked at per call: the
    ///     listing's ``TaskListing/nextOffset`` continues from there.
    /// - Throws: ``KaleError`` `.invalidOptions` for a bad queue name, ``RedisError``.
    public func browse(queue: String, state: BrowseState, offset: Int = 0, limit: Int = 50,
                       nameContains: String? = nil, examineLimit: Int = 5000) async throws -> TaskListing {
        try KaleClient.checkQueueName(queue)
        let lengths = try await stateLengths(queue, state)
        let total = lengths.reduce(0, +)
        // Past the end there is nothing to read; clamping here also keeps every position
        // below `total`, so `offset + limit` cannot overflow whatever a URL asked for.
        let offset = min(max(offset, 0), total), limit = max(limit, 1)
        let filter = nameContains.flatMap { $0.isEmpty ? nil : $0.lowercased() }
        var picked: [(id: String, position: Int, score: Double?)] = []
        var position = offset
        var examined = 0
        if let filter {
            while picked.count < limit, position < total, examined < examineLimit {
                let n = min(500, examineLimit - examined)
                let chunk = try await ids(queue, state, lengths: lengths, from: position, count: n)
                guard !chunk.isEmpty else { break }
                let names = try await redis.pipeline(chunk.map { RedisCommand("HGET", keys.task(queue, $0.id), "name") })
                for (entry, name) in zip(chunk, names) {
                    examined += 1
                    position = entry.position + 1
                    if (name.string ?? "").lowercased().contains(filter) { picked.append(entry) }
                    if picked.count == limit { break }
                }
            }
        } else {
            picked = try await ids(queue, state, lengths: lengths, from: offset, count: limit)
            examined = picked.count
            position = offset + picked.count
        }
        let fields = Self.listingFields
        let records = picked.isEmpty ? [] : try await redis.pipeline(picked.map {
            RedisCommand("HMGET", arguments: [keys.task(queue, $0.id)] + fields.map { $0 as any RedisArgument })
        })
        let entries = zip(picked, records).map { e, reply in
            var record: [String: String] = [:]
            for (name, value) in zip(fields, reply.array ?? []) { if let v = value.string { record[name] = v } }
            return TaskListing.Entry(id: e.id, position: e.position, score: e.score.map { Date(timeIntervalSince1970: $0 / 1000) },
                                     task: TaskInfo(id: e.id, queue: queue, fields: record))
        }
        return TaskListing(queue: queue, state: state, total: total, offset: offset, entries: entries, examined: examined,
                           nextOffset: position < total ? position : nil, nameContains: nameContains,
                           hitExamineLimit: filter != nil && picked.count < limit && position < total)
    }

    /// The record fields a listing shows: everything but the message and the result, which may be large.
    static let listingFields = ["state", "name", "attempt", "max_retries", "prio", "worker", "enqueued_at", "started_at",
                                "finished_at", "error", "progress"]

    /// The length of each list (pending: high, normal, low) or of the set holding `state`.
    func stateLengths(_ queue: String, _ state: BrowseState) async throws -> [Int] {
        let commands: [RedisCommand]
        switch state {
        case .pending: commands = keys.pendingLists(queue).map { RedisCommand("LLEN", $0) }
        case .scheduled: commands = [RedisCommand("ZCARD", keys.scheduled(queue))]
        case .running: commands = [RedisCommand("ZCARD", keys.active(queue))]
        case .dead: commands = [RedisCommand("ZCARD", keys.dead(queue))]
        }
        return try await redis.checkedPipeline(commands).map { $0.int ?? 0 }
    }

    /// Ids at positions `from..<from+count` of `state`. The pending lists read as one: high,
    /// then normal, then low, each from its tail (workers RPOP), so position 0 is fetched next.
    func ids(_ queue: String, _ state: BrowseState, lengths: [Int], from: Int, count: Int)
        async throws -> [(id: String, position: Int, score: Double?)] {
        // Saturating: a caller's position plus a count must not trap near Int.max.
        let (sum, overflow) = from.addingReportingOverflow(max(count, 0))
        let upto = overflow ? Int.max : sum
        switch state {
        case .pending:
            var commands: [RedisCommand] = [], bases: [Int] = []
            var base = 0
            for (list, length) in zip(keys.pendingLists(queue), lengths) {
                let start = max(from - base, 0), end = min(upto - base, length)
                if start < end {
                    commands.append(RedisCommand("LRANGE", list, -end, -(start + 1)))
                    bases.append(base + start)
                }
                base += length
            }
            guard !commands.isEmpty else { return [] }
            var out: [(id: String, position: Int, score: Double?)] = []
            for (reply, first) in zip(try await redis.checkedPipeline(commands), bases) {
                let items = reply.strings ?? []
                for (i, id) in items.reversed().enumerated() { out.append((id, first + i, nil)) }
            }
            return out
        case .scheduled, .running, .dead:
            let key = state == .scheduled ? keys.scheduled(queue) : state == .running ? keys.active(queue) : keys.dead(queue)
            guard upto > from else { return [] }
            let reply = try await redis.send(state == .dead ? "ZREVRANGE" : "ZRANGE", key, from, upto - 1, "WITHSCORES")
            let items = reply.strings ?? []
            return stride(from: 0, to: items.count - 1, by: 2).map { i in (items[i], from + i / 2, Double(items[i + 1])) }
        }
    }
}
