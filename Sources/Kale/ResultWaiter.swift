import KaleRedis
import Synchronization

/// Wakes awaiting producers when their tasks end, over one shared pub/sub connection.
///
/// Each wait subscribes to its task's done channel (reference counted, so a thousand waits
/// on a thousand tasks cost one connection), then reads the task's state: a task that ended
/// before the subscription took effect is seen by that read, one that ends after it by the
/// message. No polling: between the two, the waiter sleeps on a continuation.
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

    private let box = Box()
    private let subscriber: RedisSubscriber

    init(configuration: RedisConfiguration) {
        let box = self.box
        // After a reconnect, messages sent while down are lost: wake every waiter so it
        // re-reads its task's state.
        subscriber = RedisSubscriber(
            configuration: configuration,
            onResubscribe: { ResultWaiter.fireAll(box) },
            onMessage: { channel, payload in ResultWaiter.fire(box, channel: channel, payload: payload) })
    }

    deinit { subscriber.shutdown() }

    func shutdown() { subscriber.shutdown() }

    /// Waits until `check` returns a value, calling it once subscribed (with nil) and again
    /// whenever the channel fires (with the message, or nil after a reconnect).
    ///
    /// - Returns: the final value of `check`, or nil on timeout.
    func wait<T: Sendable>(
        channel: String, timeout: Duration, check: @Sendable ([UInt8]?) async throws -> T?
    ) async throws -> T? {
        let token = register(channel)
        defer {
            unregister(token, channel)
            subscriber.unsubscribe(channel)
        }
        try await subscriber.subscribe(channel)
        let deadline = ContinuousClock.now + timeout
        var payload: [UInt8]?
        while true {
            if let done = try await check(payload) { return done }
            let remaining = deadline - .now
            if remaining <= .zero { return nil }
            _ = await signal(token, within: remaining)
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

    /// Sleeps until the slot fires or `timeout` passes; true when it fired.
    private func signal(_ token: UInt64, within timeout: Duration) async -> Bool {
        let box = self.box
        // The timer is a separate task because a continuation cannot time out by itself; it
        // only resumes the slot if nothing else did first.
        let timer = Task {
            try? await Task.sleep(for: timeout)
            ResultWaiter.resume(box, token: token, with: false)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let resumeNow = box.state.withLock { s -> Bool in
                    guard var slot = s.slots[token] else { return true }
                    if slot.fired {
                        slot.fired = false
                        s.slots[token] = slot
                        return true
                    }
                    slot.continuation = c
                    s.slots[token] = slot
                    return false
                }
                if resumeNow { c.resume(returning: true) }
            }
        } onCancel: {
            ResultWaiter.resume(box, token: token, with: false)
        }
    }

    private static func resume(_ box: Box, token: UInt64, with value: Bool) {
        let c = box.state.withLock { s -> CheckedContinuation<Bool, Never>? in
            let c = s.slots[token]?.continuation
            s.slots[token]?.continuation = nil
            return c
        }
        c?.resume(returning: value)
    }

    private static func fire(_ box: Box, channel: String, payload: [UInt8]?) {
        let continuations = box.state.withLock { s -> [CheckedContinuation<Bool, Never>] in
            var out: [CheckedContinuation<Bool, Never>] = []
            for t in s.byChannel[channel] ?? [] {
                s.slots[t]?.payload = payload
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
