import Foundation
import Kale
import KaleCLI
import KaleRedis
import Logging
import ServiceLifecycle
import Synchronization

/// The overview every live page follows, read once a second by one loop however many tabs are
/// open, and only while one is: N browsers cost Redis one pipeline a second, not N.
///
/// Each frame is a server-sent event: `event: overview` with the JSON of `/api/overview`
/// without its history (a new subscriber gets the last one at once), and `event: events` with
/// the lifecycle events seen since the previous second (the newest ``maxEvents``), tailed from
/// the event streams on one blocking connection (`KaleClient.followEvents`) while a tab is open.
final class LiveFeed: Service, Sendable {
    private struct State {
        var next = 0
        var subscribers: [Int: AsyncStream<String>.Continuation] = [:]
        var last: String?
        var stopped = false
        /// Events not yet sent, oldest first.
        var events: [JSONValue] = []
        /// The queues of the last overview: the event tail follows their streams.
        var queues: [String]?
        /// When the first of the current subscribers came (the pages it loaded show the events before).
        var watchedSince = Date()
    }

    /// Events per frame at most: a browser shows the newest, not a firehose.
    static let maxEvents = 50

    private let client: KaleClient
    private let logger: Logger
    private let state = Mutex(State())

    init(client: KaleClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The frames from now on; the stream ends when the dashboard shuts down.
    func subscribe() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(8))
        let id: Int? = state.withLock { s in
            if s.stopped { return nil }
            if s.subscribers.isEmpty { s.watchedSince = Date() }
            let id = s.next
            s.next += 1
            s.subscribers[id] = continuation
            if let last = s.last { continuation.yield(last) }
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) } }
        return stream
    }

    private var watched: Bool { state.withLock { !$0.subscribers.isEmpty } }

    func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.tailEvents() }
                while !Task.isCancelled {
                    if watched { await publish() }
                    try? await Task.sleep(for: .seconds(1))
                }
                group.cancelAll()
            }
        }
        let subscribers = state.withLock { s in
            s.stopped = true
            defer { s.subscribers = [:] }
            return Array(s.subscribers.values)
        }
        for c in subscribers { c.finish() }
    }

    /// Collects events while anyone watches; the stream (and its connection) is dropped when
    /// the last tab closes, and opened again with the next.
    private func tailEvents() async {
        var previous: (queues: [String], started: Date)?
        while !Task.isCancelled {
            guard watched, let queues = state.withLock({ $0.queues }) else {
                previous = nil
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            let started = Date()
            // Events this tail cannot see, read once: for a first tail, those since the first
            // page was served; for a queue that just appeared, those since the previous tail began.
            let added = previous.map { p in (queues.filter { !p.queues.contains($0) }, p.started) }
                ?? (queues, state.withLock { $0.watchedSince })
            previous = (queues, started)
            await withTaskGroup(of: Bool.self) { group in  // true: the task that ends this tail
                if !added.0.isEmpty {
                    let (added, since) = added
                    group.addTask {
                        // After the tail has started, so nothing falls between the two; the page drops repeats by id.
                        try? await Task.sleep(for: .milliseconds(200))
                        let missed = (try? await self.client.events(queues: added, last: Self.maxEvents)) ?? []
                        // 2 s of slack for a Redis clock ahead of ours; the page drops the repeats.
                        self.buffer(missed.filter { $0.time >= since.addingTimeInterval(-2) })
                        return false
                    }
                }
                group.addTask {
                    do {
                        for try await event in self.client.followEvents(queues: queues) { self.buffer([event]) }
                    } catch {
                        self.logger.debug("event stream interrupted", metadata: ["error": "\(error)"])
                        try? await Task.sleep(for: .seconds(1))
                    }
                    return true
                }
                // Ends when the last tab closes or a queue appears, which cancels the tail above
                // (to be opened again on the new set of streams).
                group.addTask {
                    while self.watched, self.state.withLock({ $0.queues }) == queues, !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                    }
                    return true
                }
                // The first of the tail and the watch to end; the backfill has no say.
                while let ends = await group.next(), !ends {}
                group.cancelAll()
            }
        }
    }

    private func buffer(_ events: [KaleEvent]) {
        guard !events.isEmpty else { return }
        state.withLock { s in
            s.events += events.map(\.json)
            if s.events.count > Self.maxEvents { s.events.removeFirst(s.events.count - Self.maxEvents) }
        }
    }

    private func publish() async {
        let frame: String
        do {
            let overview = try await Overview.load(client)
            state.withLock { $0.queues = overview.queues.map(\.queue) }
            frame = "event: overview\ndata: " + overview.json.jsonString + "\n\n"
        } catch {
            // The page keeps its last numbers and says Redis is unreachable until it answers again.
            frame = "event: trouble\ndata: " + JSONValue.object(["error": .string("\(error)")]).jsonString + "\n\n"
        }
        let (subscribers, events) = state.withLock { s in
            s.last = frame
            defer { s.events = [] }
            return (Array(s.subscribers.values), s.events)
        }
        let eventsFrame = events.isEmpty ? nil : "event: events\ndata: " + JSONValue.array(events).jsonString + "\n\n"
        for c in subscribers {
            c.yield(frame)
            if let eventsFrame { c.yield(eventsFrame) }
        }
    }
}
