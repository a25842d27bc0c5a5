import Synchronization

/// A FIFO handing fetched tasks to the runner loops; many consumers, async waits.
final class JobQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var head = 0
        var waiters: [CheckedContinuation<Element?, Never>] = []
        var closed = false
    }

    private let state = Mutex(State())

    /// Queues `item`; false (and not queued) once the queue is closed, so the caller can give
    /// the item back instead of leaving it where no consumer will ever look.
    @discardableResult
    func push(_ item: Element) -> Bool {
        let (accepted, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Element?, Never>?) in
            if s.closed { return (false, nil) }
            if !s.waiters.isEmpty { return (true, s.waiters.removeFirst()) }
            s.items.append(item)
            return (true, nil)
        }
        waiter?.resume(returning: item)
        return accepted
    }

    /// The next item if one is queued now; never waits.
    func tryPop() -> Element? {
        state.withLock { Self.take(&$0) }
    }

    /// Takes the head item, dropping the consumed prefix once it is most of the storage (the
    /// array would otherwise grow with every item ever pushed).
    private static func take(_ s: inout State) -> Element? {
        guard s.head < s.items.count else { return nil }
        let item = s.items[s.head]
        s.head += 1
        if s.head > 64, s.head * 2 > s.items.count {
            s.items.removeFirst(s.head)
            s.head = 0
        }
        return item
    }

    /// The next item, or nil once closed and drained.
    func pop() async -> Element? {
        await withCheckedContinuation { c in
            let ready = state.withLock { s -> (Bool, Element?) in
                if let item = Self.take(&s) { return (true, item) }
                if s.closed { return (true, nil) }
                s.waiters.append(c)
                return (false, nil)
            }
            if ready.0 { c.resume(returning: ready.1) }
        }
    }

    /// Takes every queued item out (to requeue them at shutdown).
    func drain() -> [Element] {
        state.withLock { s in
            let out = Array(s.items[s.head...])
            s.items.removeAll()
            s.head = 0
            return out
        }
    }

    /// Wakes every waiting consumer with nil; later pops return what is left, then nil.
    func close() {
        let waiters = state.withLock { s -> [CheckedContinuation<Element?, Never>] in
            s.closed = true
            let w = s.waiters
            s.waiters.removeAll()
            return w
        }
        for w in waiters { w.resume(returning: nil) }
    }
}
