import Synchronization

/// Shutdown requests (from signals or the API), awaited one at a time by the supervisor.
final class ShutdownSignal: Sendable {
    private struct State {
        var pending: [Worker.ShutdownMode] = []
        var waiter: CheckedContinuation<Worker.ShutdownMode?, Never>?
    }

    private let state = Mutex(State())

    func request(_ mode: Worker.ShutdownMode) {
        let waiter = state.withLock { s -> CheckedContinuation<Worker.ShutdownMode?, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending.append(mode)
            return nil
        }
        waiter?.resume(returning: mode)
    }

    /// The next request; nil if the waiting task is cancelled.
    func next() async -> Worker.ShutdownMode? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Worker.ShutdownMode?, Never>) in
                let ready = state.withLock { s -> Worker.ShutdownMode?? in
                    if !s.pending.isEmpty { return .some(s.pending.removeFirst()) }
                    if Task.isCancelled { return .some(nil) }
                    s.waiter = c
                    return nil
                }
                if let ready { c.resume(returning: ready) }
            }
        } onCancel: {
            state.withLock { s -> CheckedContinuation<Worker.ShutdownMode?, Never>? in
                let w = s.waiter
                s.waiter = nil
                return w
            }?.resume(returning: nil)
        }
    }
}
