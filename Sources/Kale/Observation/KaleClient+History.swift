import Foundation
import KaleRedis

extension KaleClient {
    /// The per-minute history of queues (default: every known queue) over the last `last`
    /// (at most 25 h, what Redis keeps), one pipeline of `HGETALL`s: one per queue and minute.
    ///
    /// A day of ten queues is 14,400 small reads; callers that redraw often should cache.
    /// - Throws: ``RedisError``.
    public func history(of queues: [String]? = nil, last: Duration = .seconds(3600), now: Int64 = Broker.now()) async throws -> [QueueHistory] {
        let names: [String]
        if let queues { names = queues } else { names = try await self.queues() }
        let count = min(max(Int(last.components.seconds / 60), 1), 1500)
        let newest = now / 60_000
        let minutes = (0..<count).map { newest - Int64(count - 1 - $0) }
        guard !names.isEmpty else { return [] }
        var commands: [RedisCommand] = []
        commands.reserveCapacity(names.count * count)
        for q in names { for m in minutes { commands.append(RedisCommand("HGETALL", keys.history(q, minute: m))) } }
        let replies = try await redis.pipeline(commands)
        return names.enumerated().map { qi, q in
            QueueHistory(queue: q, minutes: minutes.enumerated().map { mi, m in
                let start = Date(timeIntervalSince1970: Double(m) * 60)
                return QueueHistory.Minute(start: start, fields: replies[qi * count + mi].hash ?? [:])
            })
        }
    }
}
