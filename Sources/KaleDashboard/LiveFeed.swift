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
/// Each frame is a server-sent event, `event: overview` with the JSON of `/api/overview`
/// without its history. A new subscriber gets the last frame at once.
final class LiveFeed: Service, Sendable {
    private struct State {
        var next = 0
        var subscribers: [Int: AsyncStream<String>.Continuation] = [:]
        var last: String?
        var stopped = false
    }

    private let client: KaleClient
    private let logger: Logger
    private let state = Mutex(State())

    init(client: KaleClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The frames from now on; the stream ends when the dashboard shuts down.
    func subscribe() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(2))
        let id: Int? = state.withLock { s in
            if s.stopped { return nil }
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

    func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                if state.withLock({ !$0.subscribers.isEmpty }) { await publish() }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        let subscribers = state.withLock { s in
            s.stopped = true
            defer { s.subscribers = [:] }
            return Array(s.subscribers.values)
        }
        for c in subscribers { c.finish() }
    }

    private func publish() async {
        let frame: String
        do {
            frame = "event: overview\ndata: " + (try await Overview.snapshot(client).jsonString) + "\n\n"
        } catch {
            // The page keeps its last numbers and says Redis is unreachable until it answers again.
            frame = "event: trouble\ndata: " + JSONValue.object(["error": .string("\(error)")]).jsonString + "\n\n"
        }
        let subscribers = state.withLock { s in
            s.last = frame
            return Array(s.subscribers.values)
        }
        for c in subscribers { c.yield(frame) }
    }
}
