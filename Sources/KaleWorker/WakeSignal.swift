import Synchronization

/// A flag an idle fetch loop waits on, raised by the listeners of a cluster's queues.
///
/// One raise wakes one wait; a raise with nobody waiting is kept for the next wait, so a
/// token taken while the loop was busy fetching is not slept through.
final class WakeSignal: Sendable {
    private struct State {
        var raised = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation = 0
    }

    private let state = Mutex(State())

    func raise() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiter else {
                s.raised = true
                return nil
            }
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }

    /// Returns when raised, or after `timeout`.
    func wait(timeout: Duration) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let generation = state.withLock { s -> Int? in
                if s.raised {
                    s.raised = false
                    return nil
                }
                s.generation += 1
                s.waiter = c
                return s.generation
            }
            guard let generation else { return c.resume() }
            Task {
                try? await Task.sleep(for: timeout)
                self.expire(generation)
            }
        }
    }

    private func expire(_ generation: Int) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard s.generation == generation, let w = s.waiter else { return nil }
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }
}
