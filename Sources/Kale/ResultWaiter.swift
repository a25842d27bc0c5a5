import KaleRedis
import Synchronization

/// Wakes awaiting producers when their tasks end, over one shared pub/sub connection.
///
/// Each wait subscribes to its task's done channel (reference counted, so a thousand waits
/// on a thousand tasks cost one connection), then reads the task's state: a task that ended
/// before the subscription took effect is seen by that read, one that ends after it by the
/// message. No polling: between the two, the waiter sleeps on a continuation.
///
/// A wait ends by its deadline whatever Redis does (docs/decisions/0015): the subscription
/// and every read run inside ``within(_:_:)``.
///
/// On a Redis Cluster a task's done channel is a shard channel in its queue's slot
/// (``Keys/shardDoneChannel(_:_:)``), held by a ``ShardedSubscriber`` on that slot's master;
/// other channels (a workflow's, Celery's) stay classic. Each kind of subscriber is made on
/// its first wait.
final class ResultWaiter: Sendable {
    private struct Slot {
        var fired = false
        /// The last message on the channel (the task's record when it ended).
        var payload: [UInt8]?
        var continuation: CheckedContinuation<Bool, Never>?
    }

    private struct State {
        var slots: [UInt64: Slot] = [:]
        var byChannel: [String: Set<UInt64>] = [:]
        var nextToken: UInt64 = 0
    }

    /// The mutex lives in its own object so the subscriber's callbacks can hold it without
    /// holding the waiter (which owns the subscriber).
    private final class Box: Sendable {
        let state = Mutex(State())
    }

    private struct Subscribers {
        var classic: RedisSubscriber?
        var sharded: ShardedSubscriber?
        var closed = false
    }

    private let box = Box()
    private let configuration: RedisConfiguration
    private let subscribers = Mutex(Subscribers())

    init(configuration: RedisConfiguration) { self.configuration = configuration }

    deinit { shutdown() }

    func shutdown() {
        let s = subscribers.withLock { s in
            s.closed = true
            return s
        }
        s.classic?.shutdown()
        s.sharded?.shutdown()
    }

    /// The subscriber of the kind `sharded` asks for, made on first use.
    private func subscriber(sharded: Bool) throws -> any ChannelSubscriber {
        let box = self.box
        let deliver: RedisSubscriber.MessageHandler = { channel, payload in ResultWaiter.fire(box, channel: channel, payload: payload) }
        return try subscribers.withLock { s in
            if s.closed { throw RedisError(.closed, detail: "the subscriber is closed") }
            if sharded {
                if let c = s.sharded { return c }
                // A channel placed again on another master missed what was sent in between:
                // its waiters re-read, as after a reconnect.
                let made = ShardedSubscriber(
                    configuration: configuration, onResubscribe: { channel in ResultWaiter.fire(box, channel: channel, payload: nil) },
                    onMessage: deliver)
                s.sharded = made
                return made
            }
            if let c = s.classic { return c }
            // After a reconnect, messages sent while down are lost: wake every waiter so it
            // re-reads its task's state. The subscriber calls this only once the channels are
            // live again, so nothing published after that re-read can be missed.
            let made = RedisSubscriber(configuration: configuration, onResubscribe: { ResultWaiter.fireAll(box) }, onMessage: deliver)
            s.classic = made
            return made
        }
    }

    /// Waits until `check` returns a value, calling it once subscribed (with nil, and `first`
    /// true) and again whenever the channel fires (with the message, or nil after a reconnect).
    ///
    /// - Returns: the final value of `check`, or nil when `deadline` passed first, even if
    ///   the subscription or a `check` was still waiting for Redis.
    /// - Throws: what `check` throws; ``RedisError`` when Redis refuses the subscription.
    ///
    /// - Parameter sharded: `channel` is a shard channel (`SSUBSCRIBE`, Redis Cluster only).
    func wait<T: Sendable>(
        channel: String, sharded: Bool = false, until deadline: ContinuousClock.Instant,
        check: @escaping @Sendable (_ payload: [UInt8]?, _ first: Bool) async throws -> T?
    ) async throws -> T? {
        try await Self.within(deadline) { [self] in try await self.waitUnbounded(channel: channel, sharded: sharded, check: check) }
    }

    /// Runs `operation` and returns its value, or nil once `deadline` has passed.
    ///
    /// At the deadline the operation is cancelled and left to finish on its own: a Redis call
    /// on a stalled server cannot be taken back, only abandoned, and its result is dropped.
    ///
    /// - Throws: what `operation` throws before the deadline; `CancellationError` when the
    ///   calling task is cancelled.
    static func within<T: Sendable>(
        _ deadline: ContinuousClock.Instant, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T? {
        let race = Race<T?>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.begin(continuation)
                // Unstructured, not child tasks: a task group would wait for its children, so
                // a Redis call stuck on a stalled server would hold the caller past the deadline.
                race.adopt(
                    Task {
                        do { race.finish(.success(try await operation())) } catch { race.finish(.failure(error)) }
                    })
                race.adopt(
                    Task {
                        try? await Task.sleep(until: deadline, clock: .continuous)
                        race.finish(.success(nil))
                    })
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
    }

    /// The wait itself, with no deadline: ``within(_:_:)`` ends it by cancellation.
    private func waitUnbounded<T: Sendable>(
        channel: String, sharded: Bool, check: @Sendable ([UInt8]?, Bool) async throws -> T?
    ) async throws -> T {
        // Registered before subscribing, so a message that arrives between the confirmation
        // and the first check is kept for the next round instead of lost.
        let token = register(channel)
        defer { unregister(token, channel) }
        let subscriber = try self.subscriber(sharded: sharded)
        try await subscriber.subscribe(channel)
        defer { subscriber.unsubscribe(channel) }
        var payload: [UInt8]?
        var first = true
        while true {
            if let done = try await check(payload, first) { return done }
            first = false
            guard await signal(token) else { throw CancellationError() }
            payload = box.state.withLock { s in
                defer { s.slots[token]?.payload = nil }
                return s.slots[token]?.payload
            }
        }
    }

    private func register(_ channel: String) -> UInt64 {
        box.state.withLock { s in
            let t = s.nextToken
            s.nextToken += 1
            s.slots[t] = Slot()
            s.byChannel[channel, default: []].insert(t)
            return t
        }
    }

    private func unregister(_ token: UInt64, _ channel: String) {
        box.state.withLock { s in
            s.slots[token] = nil
            s.byChannel[channel]?.remove(token)
            if s.byChannel[channel]?.isEmpty == true { s.byChannel[channel] = nil }
        }
    }

    /// Sleeps until the slot fires (true) or the task is cancelled (false).
    private func signal(_ token: UInt64) async -> Bool {
        let box = self.box
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let resumeWith = box.state.withLock { s -> Bool? in
                    // Read under the lock onCancel takes: a cancellation (the deadline) that
                    // came before the continuation was stored found nothing to resume, and is
                    // seen here instead of lost.
                    if Task.isCancelled { return false }
                    guard var slot = s.slots[token] else { return false }
                    if slot.fired {
                        slot.fired = false
                        s.slots[token] = slot
                        return true
                    }
                    slot.continuation = c
                    s.slots[token] = slot
                    return nil
                }
                if let resumeWith { c.resume(returning: resumeWith) }
            }
        } onCancel: {
            let c = box.state.withLock { s -> CheckedContinuation<Bool, Never>? in
                let c = s.slots[token]?.continuation
                s.slots[token]?.continuation = nil
                return c
            }
            c?.resume(returning: false)
        }
    }

    private static func fire(_ box: Box, channel: String, payload: [UInt8]?) {
        let continuations = box.state.withLock { s -> [CheckedContinuation<Bool, Never>] in
            var out: [CheckedContinuation<Bool, Never>] = []
            for t in s.byChannel[channel] ?? [] {
                // A reconnect (nil) must not erase a record that arrived just before it.
                if let payload { s.slots[t]?.payload = payload }
                if let c = s.slots[t]?.continuation {
                    out.append(c)
                    s.slots[t]?.continuation = nil
                } else {
                    s.slots[t]?.fired = true
                }
            }
            return out
        }
        for c in continuations { c.resume(returning: true) }
    }

    private static func fireAll(_ box: Box) {
        let channels = box.state.withLock { Array($0.byChannel.keys) }
        for c in channels { fire(box, channel: c, payload: nil) }
    }
}

/// The first of an operation, a timer and a cancellation to finish resumes the caller; the
/// others are dropped. Each may come first, even before the caller's continuation is stored,
/// so whichever finishes is recorded and the continuation picks it up when it arrives.
private final class Race<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var outcome: Result<T, any Error>?
        var tasks: [Task<Void, Never>] = []
    }

    private let state = Mutex(State())

    func begin(_ continuation: CheckedContinuation<T, any Error>) {
        let outcome = state.withLock { s -> Result<T, any Error>? in
            if s.outcome == nil { s.continuation = continuation }
            return s.outcome
        }
        if let outcome { continuation.resume(with: outcome) }
    }

    /// Keeps a contender to cancel when another wins; cancels it at once when one already has.
    func adopt(_ task: Task<Void, Never>) {
        let finished = state.withLock { s -> Bool in
            if s.outcome == nil { s.tasks.append(task) }
            return s.outcome != nil
        }
        if finished { task.cancel() }
    }

    func finish(_ outcome: Result<T, any Error>) {
        let won = state.withLock { s -> (CheckedContinuation<T, any Error>?, [Task<Void, Never>])? in
            guard s.outcome == nil else { return nil }
            s.outcome = outcome
            defer {
                s.continuation = nil
                s.tasks = []
            }
            return (s.continuation, s.tasks)
        }
        guard let won else { return }
        let (continuation, losers) = won
        for t in losers { t.cancel() }
        continuation?.resume(with: outcome)
    }
}

/// What a wait needs of a subscriber, classic or sharded.
private protocol ChannelSubscriber: Sendable {
    func subscribe(_ channel: String) async throws
    func unsubscribe(_ channel: String)
}

extension RedisSubscriber: ChannelSubscriber {}
extension ShardedSubscriber: ChannelSubscriber {}
