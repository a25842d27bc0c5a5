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
/// reconnect every channel is subscribed again and, once the server has confirmed all of them,
/// `onResubscribe` runs: the owner must re-check whatever state it was waiting for.
///
/// On one node of a Redis Cluster it can instead hold shard channels (`SSUBSCRIBE`), for a
/// ``ShardedSubscriber``: see ``Shard``.
public final class RedisSubscriber: Sendable {
    /// Called on the subscriber's thread for each message: channel and payload.
    public typealias MessageHandler = @Sendable (String, [UInt8]) -> Void

    private enum Operation {
        /// SUBSCRIBE on behalf of the channel entry with this generation.
        case subscribe(String, generation: UInt64)
        case unsubscribe(String)
        /// Not a command: the point in the reply stream where a reconnect's re-subscriptions
        /// have all been answered.
        case resubscribed
    }

    private struct Channel {
        /// Tells a reply for this entry from one for an entry of the same name that was
        /// dropped and made again while the first SUBSCRIBE was in flight.
        let generation: UInt64
        /// Callers whose subscribe() returned, plus those still waiting for confirmation.
        var references = 0
        var confirmed = false
        /// A SUBSCRIBE for this entry is queued or awaiting its reply.
        var requested = false
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    }

    private struct State {
        var channels: [String: Channel] = [:]
        var outbox: [Operation] = []
        var closed = false

        /// Fails the callers waiting for `channel`'s confirmation; their references go with
        /// them, and the entry with the last one.
        mutating func failWaiters(_ channel: String) -> [CheckedContinuation<Void, any Error>] {
            guard var c = channels[channel] else { return [] }
            let w = Array(c.waiters.values)
            c.waiters.removeAll()
            c.references -= w.count
            channels[channel] = c.references > 0 ? c : nil
            return w
        }
    }

    /// The commands sent on the current connection whose replies have not arrived yet, in
    /// order. Redis answers in order, and each of our commands names one channel, so the
    /// oldest entry says what the next reply (or error reply) is about. Owned by the thread.
    private struct Sent {
        var operations: [Operation] = []
        var head = 0

        var first: Operation? { head < operations.count ? operations[head] : nil }

        mutating func append(_ op: Operation) { operations.append(op) }

        mutating func removeFirst() {
            head += 1
            if head == operations.count {
                operations.removeAll(keepingCapacity: true)
                head = 0
            }
        }
    }

    /// What a shard-channel subscriber does when its node stops serving its channels. It
    /// never reconnects by itself: after a failover the node's slots live on another node, so
    /// the owner decides where each channel goes next.
    struct Shard: Sendable {
        /// The server dropped the channel (its slot moved to another node, Redis 7 sends
        /// `sunsubscribe`); the subscriber has forgotten it, with all its references.
        let onEvicted: @Sendable (String) -> Void
        /// The connection failed or could not be made: the subscriber has closed, and these
        /// channels (those it had confirmed) are no longer served.
        let onLost: @Sendable ([String]) -> Void
    }

    private let state = Mutex(State())
    private let shard: Shard?
    private let nextID = Atomic<UInt64>(0)
    private let wakeFD: Int32
    private let configuration: RedisConfiguration
    private let onMessage: MessageHandler
    private let onResubscribe: @Sendable () -> Void
    private let logger: Logger
    private static let lazyUnsubscribeLimit = 256

    public convenience init(
        configuration: RedisConfiguration,
        logger: Logger = Logger(label: "kale.redis.pubsub"),
        onResubscribe: @escaping @Sendable () -> Void = {},
        onMessage: @escaping MessageHandler
    ) {
        self.init(configuration: configuration, logger: logger, shard: nil, onResubscribe: onResubscribe, onMessage: onMessage)
    }

    /// A subscriber of shard channels on the single node `configuration` names.
    init(
        configuration: RedisConfiguration, logger: Logger, shard: Shard?,
        onResubscribe: @escaping @Sendable () -> Void, onMessage: @escaping MessageHandler
    ) {
        self.shard = shard
        self.configuration = configuration
        self.onMessage = onMessage
        self.onResubscribe = onResubscribe
        self.logger = logger
        wakeFD = kale_eventfd()
        precondition(wakeFD >= 0, "eventfd failed: \(String(cString: strerror(errno)))")
        let thread = Thread { [self] in self.run() }
        thread.name = shard == nil ? "kale-redis-pubsub" : "kale-redis-spubsub"
        thread.start()
    }

    deinit { close(wakeFD) }

    /// Subscribes to `channel` and returns once the server has confirmed it, so a message
    /// published after this returns is delivered.
    ///
    /// Each call that returns holds one reference, released by ``unsubscribe(_:)``. A call
    /// that throws holds none.
    ///
    /// - Throws: ``RedisError``: `.server` when Redis refuses the subscription (the detail
    ///   names the ACL rule the user lacks), the login's error (`.authentication` …) when Redis
    ///   refuses the connection, `.closed` when the subscriber is shut down.
    ///   `CancellationError` when the calling task is cancelled before the confirmation.
    public func subscribe(_ channel: String) async throws {
        let id = nextID.add(1, ordering: .relaxed).newValue
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { s -> Result<Bool, any Error> in
                    if s.closed { return .failure(RedisError(.closed, detail: "the subscriber is closed")) }
                    // Read under the lock that onCancel takes: a cancellation that found no
                    // waiter to resume is seen here, so it cannot be lost.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    var c = s.channels[channel] ?? Channel(generation: id)
                    c.references += 1
                    if c.confirmed {
                        s.channels[channel] = c
                        return .success(true)
                    }
                    c.waiters[id] = continuation
                    if !c.requested {
                        c.requested = true
                        s.outbox.append(.subscribe(channel, generation: c.generation))
                    }
                    s.channels[channel] = c
                    return .success(false)
                }
                switch outcome {
                case .failure(let error): continuation.resume(throwing: error)
                case .success(true): continuation.resume()
                case .success(false): wake()
                }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, any Error>? in
                guard var c = s.channels[channel], let w = c.waiters.removeValue(forKey: id) else { return nil }
                c.references -= 1
                s.channels[channel] = c
                if c.references == 0 { drop(channel, &s) }
                return w
            }
            waiter?.resume(throwing: CancellationError())
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
            s.channels[channel] = c
            guard c.references <= 0 else { return false }
            drop(channel, &s)
            return s.outbox.count >= Self.lazyUnsubscribeLimit
        }
        if send { wake() }
    }

    /// Whether the subscriber has stopped (shut down, or a shard subscriber whose node was lost).
    var isClosed: Bool { state.withLock { $0.closed } }

    /// Stops the thread; pending subscriptions fail with `.closed`.
    public func shutdown() {
        state.withLock { $0.closed = true }
        wake()
    }

    /// Forgets a channel nobody references any more and queues its UNSUBSCRIBE (sent even when
    /// its SUBSCRIBE is still in flight: the server then ends unsubscribed, as it should).
    private func drop(_ channel: String, _ s: inout State) {
        guard let c = s.channels.removeValue(forKey: channel) else { return }
        for w in c.waiters.values { w.resume(throwing: CancellationError()) }
        if c.confirmed || c.requested { s.outbox.append(.unsubscribe(channel)) }
    }

    private var subscribeVerb: String { shard == nil ? "SUBSCRIBE" : "SSUBSCRIBE" }
    private var unsubscribeVerb: String { shard == nil ? "UNSUBSCRIBE" : "SUNSUBSCRIBE" }

    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    private func run() {
        let connection = RedisConnection(configuration: configuration, logger: logger)
        var context: RedisContext?
        var sent = Sent()
        var needsResubscribe = false
        while !state.withLock({ $0.closed }) {
            do {
                if context == nil {
                    let fresh = try connection.connected()
                    // After a reconnect the server knows none of our channels: subscribe all
                    // again. One command per channel, so a refusal names its channel.
                    sent = Sent()
                    let channels = state.withLock { s -> [(String, UInt64)] in
                        s.outbox.removeAll()
                        for key in s.channels.keys { s.channels[key]!.requested = true }
                        return s.channels.map { ($0.key, $0.value.generation) }
                    }
                    for (channel, generation) in channels {
                        try fresh.append(RedisCommand(subscribeVerb, channel))
                        sent.append(.subscribe(channel, generation: generation))
                    }
                    try fresh.flush()
                    context = fresh
                    // onResubscribe waits for the server's answers: a waiter that re-reads its
                    // state before its channel is live again could miss a message sent between.
                    if needsResubscribe { sent.append(.resubscribed) }
                    needsResubscribe = false
                    settle(&sent)
                }
                if connection.followsOldMaster {
                    // Sentinel moved the master: a demoted one still relays what the new one
                    // publishes, but not for long (it is killed or restarted), so move now.
                    throw RedisError(.eof, detail: "the master moved; subscribing on the new one")
                }
                try pump(context!, &sent)
            } catch let error as RedisError {
                if let shard {
                    // A shard subscriber does not come back by itself: its owner moves the
                    // channels to whichever node serves their slots now.
                    let (held, waiters) = state.withLock { s -> ([String], [CheckedContinuation<Void, any Error>]) in
                        s.closed = true
                        let held = s.channels.filter { $0.value.confirmed }.map(\.key)
                        let waiters = s.channels.values.flatMap { $0.waiters.values }
                        s.channels.removeAll()
                        return (held, waiters)
                    }
                    logger.debug("shard pub/sub connection lost", metadata: ["error": "\(error)"])
                    connection.drop(RedisError(.io, detail: error.detail))
                    for w in waiters { w.resume(throwing: error) }
                    shard.onLost(held)
                    return
                }
                if context != nil {
                    logger.warning("pub/sub connection lost", metadata: ["error": "\(error)"])
                } else if !error.isConnectionFailure {
                    // Connecting was refused (a wrong password, an ACL without CLIENT SETNAME):
                    // retrying will not fix that soon, so pending subscribes fail with the
                    // reason instead of waiting it out. Later ones still retry.
                    let waiters = state.withLock { s in Array(s.channels.keys).flatMap { s.failWaiters($0) } }
                    for w in waiters { w.resume(throwing: error) }
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
            for c in s.channels.values {
                for w in c.waiters.values { w.resume(throwing: RedisError(.closed, detail: "the subscriber is closed")) }
            }
            s.channels.removeAll()
        }
    }

    /// One round: send queued (un)subscriptions, wait for the socket or a wakeup (at most
    /// 1 s, to notice shutdown), then hand out every complete message.
    private func pump(_ context: RedisContext, _ sent: inout Sent) throws {
        let outbox = state.withLock { s -> [Operation] in
            let o = s.outbox
            s.outbox.removeAll()
            return o
        }
        if !outbox.isEmpty {
            for op in outbox {
                switch op {
                case .subscribe(let c, _): try context.append(RedisCommand(subscribeVerb, c))
                case .unsubscribe(let c): try context.append(RedisCommand(unsubscribeVerb, c))
                case .resubscribed: continue
                }
                sent.append(op)
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
            while let reply = try context.bufferedReply() { try handle(reply, &sent) }
        }
    }

    private func handle(_ reply: RedisReply, _ sent: inout Sent) throws {
        if case .error(let message) = reply {
            guard let op = sent.first else {
                logger.warning("unsolicited error from Redis on the pub/sub connection", metadata: ["error": "\(message)"])
                return
            }
            sent.removeFirst()
            if case .subscribe(let channel, let generation) = op {
                refuse(channel, generation, message)
            } else {
                logger.warning("Redis refused a pub/sub command", metadata: ["error": "\(message)"])
            }
            settle(&sent)
            return
        }
        guard let items = reply.array, items.count >= 3, let kind = items[0].string, let channel = items[1].string else { return }
        switch kind {
        case "message", "smessage":
            onMessage(channel, items[2].bytes ?? [])
        case "sunsubscribe" where !Self.answers(sent.first, unsubscribing: channel):
            // Not the answer to a command of ours: the server let go of the channel because
            // its slot left this node. Commands in flight still get their own answers.
            evict(channel)
        case "subscribe", "unsubscribe", "ssubscribe", "sunsubscribe":
            let op = sent.first
            sent.removeFirst()
            switch op {
            case .subscribe(channel, let generation)? where kind.hasSuffix("subscribe") && !kind.hasSuffix("unsubscribe"):
                confirm(channel, generation)
            case .unsubscribe(channel)? where kind.hasSuffix("unsubscribe"): break
            default:
                // Replies no longer line up with what was sent: nothing said about a channel
                // can be trusted, so start over on a fresh connection.
                throw RedisError(.protocolError, detail: "pub/sub reply '\(kind) \(channel)' does not answer the command sent")
            }
            settle(&sent)
        default:
            break
        }
    }

    private static func answers(_ op: Operation?, unsubscribing channel: String) -> Bool {
        if case .unsubscribe(channel)? = op { return true }
        return false
    }

    /// Forgets a channel the server dropped, failing whoever still waited for it to be
    /// confirmed (a `MOVED`-like error their owner retries), and tells the owner.
    private func evict(_ channel: String) {
        let waiters = state.withLock { s in s.channels.removeValue(forKey: channel).map { Array($0.waiters.values) } ?? [] }
        let error = RedisError(.server, detail: "MOVED the slot of shard channel '\(channel)' left this node")
        for w in waiters { w.resume(throwing: error) }
        shard?.onEvicted(channel)
    }

    /// Runs `onResubscribe` once every re-subscription sent before it has been answered.
    private func settle(_ sent: inout Sent) {
        while case .resubscribed? = sent.first {
            sent.removeFirst()
            onResubscribe()
        }
    }

    private func confirm(_ channel: String, _ generation: UInt64) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            guard var c = s.channels[channel], c.generation == generation else { return [] }
            c.confirmed = true
            c.requested = false
            let w = Array(c.waiters.values)
            c.waiters.removeAll()
            s.channels[channel] = c
            return w
        }
        for w in waiters { w.resume() }
    }

    /// Fails the callers waiting for a SUBSCRIBE that Redis answered with an error. Callers
    /// that already hold the channel (a re-subscription refused after a reconnect) keep their
    /// reference, unconfirmed, until they let go; the next subscribe() asks again.
    private func refuse(_ channel: String, _ generation: UInt64, _ message: String) {
        // A redirection or a cluster in the middle of a failover: the owner tries elsewhere
        // or again, and needs the server's own words (RedisError.serverCode) to tell.
        let redirected = shard != nil && ClusterRouter.redirectionCodes.contains(message.prefix { $0 != " " })
        let error = redirected ? RedisError(.server, detail: message) : Self.refusal(channel, message, user: configuration.url.user, verb: subscribeVerb)
        let (waiters, held) = state.withLock { s -> ([CheckedContinuation<Void, any Error>], Bool) in
            guard s.channels[channel]?.generation == generation else { return ([], false) }
            s.channels[channel]?.requested = false
            let w = s.failWaiters(channel)
            return (w, s.channels[channel] != nil)
        }
        // Nobody waits to be told, but someone still counts on the channel: say it in the log.
        if held { logger.error("Redis refused a pub/sub subscription", metadata: ["error": "\(error.detail)"]) }
        for w in waiters { w.resume(throwing: error) }
    }

    /// The error for a refused SUBSCRIBE, on one line, naming the ACL rule to add when that is
    /// the cause: an operator reading a log should not need to know what NOPERM means.
    static func refusal(_ channel: String, _ message: String, user: String?, verb: String = "SUBSCRIBE") -> RedisError {
        let who = user.map { "the Redis user '\($0)'" } ?? "the Redis default user"
        guard message.hasPrefix("NOPERM") else {
            return RedisError(.server, detail: "\(verb) \(channel) refused: \(message)")
        }
        if message.contains("channel") {
            // The channel's first segment is its owner's prefix (kale:done:<id> -> kale:*).
            let pattern = channel.firstIndex(of: ":").map { String(channel[...$0]) + "*" } ?? channel
            return RedisError(
                .permission,
                detail:
                    "\(who) lacks the pub/sub channel permission for '\(channel)': add `&\(pattern)` (or `allchannels`) to its ACL (\(message))"
            )
        }
        return RedisError(
            .permission,
            detail: "\(who) may not run \(verb): add `+\(verb.lowercased()) +\(verb == "SUBSCRIBE" ? "unsubscribe" : "sunsubscribe")` (or `+@pubsub`) to its ACL (\(message))")
    }
}
