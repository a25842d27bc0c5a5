import Foundation
import KaleRedis

extension KaleClient {
    /// The newest `count` events of queues (default: every known queue) and of the workers,
    /// oldest first: one `XREVRANGE … COUNT` per stream, merged by time.
    /// - Throws: ``RedisError``.
    public func events(queues: [String]? = nil, last count: Int = 100) async throws -> [KaleEvent] {
        let names: [String]
        if let queues { names = queues } else { names = try await self.queues() }
        let streams: [(key: String, queue: String?)] = names.map { (keys.events($0), $0) } + [(keys.workerEvents, nil)]
        let replies = try await redis.checkedPipeline(streams.map { RedisCommand("XREVRANGE", $0.key, "+", "-", "COUNT", count) })
        var all: [KaleEvent] = []
        for (s, reply) in zip(streams, replies) {
            all += (reply.array ?? []).flatMap { KaleEvent.events(queue: s.queue, entry: $0) }
        }
        all = KaleEvent.sortedByTime(all)
        return Array(all.suffix(count))
    }

    /// The events of task `taskID` among the newest `scan` of its queue's stream, oldest
    /// first (bounded: an old task's events may have been trimmed away).
    /// - Throws: ``RedisError``.
    public func events(for taskID: String, queue: String, scan: Int = 2000) async throws -> [KaleEvent] {
        let reply = try await redis.send("XREVRANGE", keys.events(queue), "+", "-", "COUNT", scan)
        // Newest entry first; the events inside one entry keep their order.
        let entries = (reply.array ?? []).reversed()
        return entries.flatMap { KaleEvent.events(queue: queue, entry: $0) }.filter { $0.taskID == taskID }
    }

    /// Marks `queues` watched for the next 15 s: their workers and producers write the frequent
    /// events (`enqueued`, `started`, `succeeded`, `deferred`) too (``KaleConfiguration/recordAllEvents``).
    /// ``followEvents(queues:)`` renews it every 5 s while it runs.
    /// - Throws: ``RedisError``.
    public func watchEvents(queues: [String]) async throws {
        guard !queues.isEmpty else { return }
        try await redis.checkedPipeline(queues.map { RedisCommand("SET", keys.eventWatch($0), "1", "PX", 15_000) })
    }

    /// Events as they happen, from now on, until the stream is cancelled: a connection of
    /// its own blocks in `XREAD` (1 s at a time, so cancelling ends it within a second) on
    /// the queues' streams (default: every known queue, re-read every 30 s) and the
    /// workers' stream. While it runs the queues are marked watched (``watchEvents(queues:)``).
    public func followEvents(queues: [String]? = nil) -> AsyncThrowingStream<KaleEvent, any Error> {
        AsyncThrowingStream { continuation in
            // A task of its own: the stream's consumer pulls at its pace while this reads.
            let reader = Task {
                let connection = redis.dedicatedConnection(name: "kale-events")
                defer { connection.close() }
                do {
                    let time = try await connection.send(RedisCommand("TIME")).strings ?? []
                    let start = (time.first.flatMap { Int64($0) } ?? 0) * 1000 + (time.count > 1 ? (Int64(time[1]) ?? 0) / 1000 : 0)
                    var cursors: [String: String] = [:]
                    var names: [String] = []
                    var namesRead = ContinuousClock.now - .seconds(60)
                    var watched = ContinuousClock.now - .seconds(60)
                    while !Task.isCancelled {
                        if queues == nil, ContinuousClock.now - namesRead >= .seconds(30) {
                            names = try await self.queues()
                            namesRead = .now
                        } else if let queues {
                            names = queues
                        }
                        if ContinuousClock.now - watched >= .seconds(5) {
                            try await watchEvents(queues: names)
                            watched = .now
                        }
                        let streams: [(key: String, queue: String?)] = names.map { (keys.events($0), $0) } + [(keys.workerEvents, nil)]
                        var arguments: [any RedisArgument] = ["BLOCK", 1000, "COUNT", 500, "STREAMS"]
                        arguments += streams.map { $0.key as any RedisArgument }
                        arguments += streams.map { (cursors[$0.key] ?? "\(start)-0") as any RedisArgument }
                        let reply = try await connection.send(RedisCommand("XREAD", arguments: arguments))
                        var batch: [KaleEvent] = []
                        for stream in reply.array ?? [] {
                            guard let parts = stream.array, parts.count == 2, let key = parts[0].string else { continue }
                            let queue = streams.first { $0.key == key }?.queue
                            for entry in parts[1].array ?? [] {
                                let events = KaleEvent.events(queue: queue, entry: entry)
                                if let last = events.last { cursors[key] = last.id }
                                batch += events
                            }
                        }
                        batch = KaleEvent.sortedByTime(batch)
                        for event in batch { continuation.yield(event) }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in reader.cancel() }
        }
    }
}
