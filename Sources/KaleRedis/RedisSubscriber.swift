import CKaleSystem
import Foundation
import Glibc
public import Logging
import Synchronization

/// One pub/sub connection shared by any number of listeners.
///
/// A dedicated thread polls the socket and an eventfd: new SUBSCRIBE/UNSUBSCRIBE requests
/// wake it at once, so a subscription costs one round trip and no polling of Redis.
/// Channels are reference counted, so thousands of waiters cost one connection.
///
/// Messages published while the connection was down are lost (that is pub/sub), so after a
/// reconnect every channel is subscribed again and `onResubscribe` runs: the owner must
/// re-check whatever state it was waiting for.
public final class RedisSubscriber: Sendable {
    /// Called on the subscriber's thread for each message: channel and payload.
    public typealias MessageHandler = @Sendable (String, [UInt8]) -> Void

    private enum Operation {
        case subscribe(String)
        case unsubscribe(String)
    }

    private struct Channel {
        var references = 0
        var confirmed = false
        var waiters: [CheckedContinuation<Void, any Error>] = []
    }

    private struct State {
        var channels: [String: Channel] = [:]
        var outbox: [Operation] = []
        var closed = false
    }

    private let state = Mutex(State())
    private let wakeFD: Int32
    private let configuration: RedisConfiguration
    private let onMessage: MessageHandler
    private let onResubscribe: @Sendable () -> Void
    private let logger: Logger
    private static let lazyUnsubscribeLimit = 256

    public init(
        configuration: RedisConfiguration,
        logger: Logger = Logger(label: "kale.redis.pubsub"),
        onResubscribe: @escaping @Sendable () -> Void = {},
        onMessage: @escaping MessageHandler
    ) {
        self.configuration = configuration
        self.onMessage = onMessage
        self.onResubscribe = onResubscribe
        self.logger = logger
        wakeFD = kale_eventfd()
        precondition(wakeFD >= 0, "eventfd failed: \(String(cString: strerror(errno)))")
        let thread = Thread { [self] in self.run() }
        thread.name = "kale-redis-pubsub"
        thread.start()
    }

    deinit { close(wakeFD) }

    /// Subscribes to `channel` and returns once the server has confirmed it, so a message
    /// published after this returns is delivered.
    ///
    /// - Throws: ``RedisError`` with code `.closed` when the subscriber is shut down.
    public func subscribe(_ channel: String) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = state.withLock { s -> Bool? in
                if s.closed { return nil }
                var c = s.channels[channel] ?? Channel()
                c.references += 1
                if c.references == 1 { s.outbox.append(.subscribe(channel)) }
                if c.confirmed {
                    s.channels[channel] = c
                    return true
                }
                c.waiters.append(continuation)
                s.channels[channel] = c
                return false
            }
            switch outcome {
            case nil: continuation.resume(throwing: RedisError(.closed, detail: "the subscriber is closed"))
            case true?: continuation.resume()
            case false?: wake()
            }
        }
    }

    /// Drops one reference to `channel`; the last one unsubscribes.
    ///
    /// The UNSUBSCRIBE goes out with the next subscription, within a second (the thread's
    /// poll timeout), or at once when ``lazyUnsubscribeLimit`` are pending. A waiter
    /// unsubscribes the moment its task ended, which is when its caller enqueues the next
    /// one: an immediate UNSUBSCRIBE woke this thread twice (to send, to read the
    /// confirmation) and Redis once, all competing with that next task for the cores. A
    /// channel that lingers a little costs nothing: its task has ended and publishes no more.
    public func unsubscribe(_ channel: String) {
        let send = state.withLock { s -> Bool in
            guard var c = s.channels[channel] else { return false }
            c.references -= 1
            if c.references > 0 {
                s.channels[channel] = c
                return false
            }
            s.channels[channel] = nil
            for w in c.waiters { w.resume(throwing: CancellationError()) }
            s.outbox.append(.unsubscribe(channel))
            return s.outbox.count >= Self.lazyUnsubscribeLimit
        }
        if send { wake() }
    }

    /// Stops the thread; pending subscriptions fail with `.closed`.
    public func shutdown() {
        state.withLock { $0.closed = true }
        wake()
    }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    private func run() {
        let connection = RedisConnection(configuration: configuration, logger: logger)
        var context: RedisContext?
        var needsResubscribe = false
        while !state.withLock({ $0.closed }) {
            do {
                if context == nil {
                    let fresh = try connection.connected()
                    // After a reconnect the server knows none of our channels: subscribe all again.
                    let channels = state.withLock { s -> [String] in
                        s.outbox.removeAll()
                        return Array(s.channels.keys)
                    }
                    if !channels.isEmpty {
                        try fresh.append(RedisCommand("SUBSCRIBE", arguments: channels))
                        try fresh.flush()
                    }
                    context = fresh
                    if needsResubscribe { onResubscribe() }
                    needsResubscribe = false
                }
                try pump(context!)
            } catch let error as RedisError {
                if context != nil {
                    logger.warning("pub/sub connection lost", metadata: ["error": "\(error)"])
                }
                context = nil
                connection.drop(RedisError(.io, detail: error.detail))
                needsResubscribe = true
                state.withLock { s in
                    for key in s.channels.keys { s.channels[key]!.confirmed = false }
                }
            } catch {
                context = nil
            }
        }
        state.withLock { s in
            for c in s.channels.values { for w in c.waiters { w.resume(throwing: RedisError(.closed, detail: "the subscriber is closed")) } }
            s.channels.removeAll()
        }
    }

    /// One round: send queued (un)subscriptions, wait for the socket or a wakeup (at most
    /// 1 s, to notice shutdown), then hand out every complete message.
    private func pump(_ context: RedisContext) throws {
        let outbox = state.withLock { s -> [Operation] in
            let o = s.outbox
            s.outbox.removeAll()
            return o
        }
        if !outbox.isEmpty {
            for op in outbox {
                switch op {
                case .subscribe(let c): try context.append(RedisCommand("SUBSCRIBE", c))
                case .unsubscribe(let c): try context.append(RedisCommand("UNSUBSCRIBE", c))
                }
            }
            try context.flush()
        }
        var fds = [
            pollfd(fd: context.fileDescriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
        ]
        let n = poll(&fds, 2, 1000)
        if n < 0 {
            if errno == EINTR { return }
            throw RedisError(.io, detail: "poll: \(String(cString: strerror(errno)))")
        }
        if fds[1].revents != 0 {
            var value: UInt64 = 0
            _ = read(wakeFD, &value, 8)
        }
        if fds[0].revents != 0 {
            try context.readAvailable()
            while let reply = try context.bufferedReply() { handle(reply) }
        }
    }

    private func handle(_ reply: RedisReply) {
        guard let items = reply.array, items.count >= 3, let kind = items[0].string else { return }
        switch kind {
        case "message":
            if let channel = items[1].string { onMessage(channel, items[2].bytes ?? []) }
        case "subscribe":
            guard let channel = items[1].string else { return }
            let waiters = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
                guard var c = s.channels[channel] else { return [] }
                c.confirmed = true
                let w = c.waiters
                c.waiters.removeAll()
                s.channels[channel] = c
                return w
            }
            for w in waiters { w.resume() }
        default:
            break
        }
    }
}
