import Kale
import Synchronization

/// The last day of history, read at most every 10 seconds: a day of one queue is 1,440
/// `HGETALL`s, and the minute buckets change once a minute anyway.
final class HistoryCache: Sendable {
    static let lifetime: Duration = .seconds(10)

    private struct Entry {
        var queues: [String]
        var at: ContinuousClock.Instant
        var histories: [QueueHistory]
    }

    private let client: KaleClient
    private let entry = Mutex<Entry?>(nil)

    init(client: KaleClient) {
        self.client = client
    }

    /// The last 24 h of `queues`, one entry per minute; a concurrent miss may read twice, which
    /// costs a read and is simpler than making callers wait on each other.
    func history(of queues: [String]) async throws -> [QueueHistory] {
        let now = ContinuousClock.now
        if let hit = entry.withLock({ e in e.flatMap { $0.queues == queues && now - $0.at < Self.lifetime ? $0.histories : nil } }) {
            return hit
        }
        let histories = try await client.history(of: queues, last: HistoryView.day)
        entry.withLock { $0 = Entry(queues: queues, at: now, histories: histories) }
        return histories
    }
}
