import Foundation
import Kale
import Synchronization

/// The tasks this worker holds a lease on (prefetched or running), and the free capacity.
///
/// The fetch loop waits here for a free slot; runners give slots back. The heartbeat reads
/// the table to renew leases and to describe running tasks.
final class HeldTasks: Sendable {
    struct Entry: Sendable {
        var task: LeasedTask
        var name: String = ""
        var running = false
        var startedAt: Date?
        var progress: Double?
        var cancelRequested = false
        /// Set when a shutdown kills the task: it is requeued, not failed.
        var abandoned = false
        /// Set while its outcome is being recorded: the lease ends with that write, so the
        /// heartbeat must not mistake its end for a lost lease. (It still renews it, in case
        /// the write has to wait out a Redis outage.)
        var finishing = false
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var waiter: CheckedContinuation<Void, Never>?
        var stopping = false
    }

    private let state = Mutex(State())
    let capacity: Int
    /// The fetch loop waits for this many free slots while tasks are still buffered, so a busy
    /// worker leases in batches (one script call for many tasks) instead of one per finished
    /// task. With nothing buffered it fetches for any free slot, so no runner idles.
    let batch: Int

    init(capacity: Int, batch: Int) {
        self.capacity = capacity
        self.batch = max(1, min(batch, capacity))
    }

    private func ready(_ s: State) -> Bool {
        let free = capacity - s.entries.count
        guard free > 0 else { return false }
        return free >= batch || !s.entries.values.contains { !$0.running }
    }

    /// Waits until at least one slot is free and returns how many are; 0 once stopping.
    /// Only the fetch loop calls this, so no one can take the slots between the answer and
    /// the fetch.
    func waitForFree() async -> Int {
        while true {
            let (free, go) = state.withLock { s in (capacity - s.entries.count, s.stopping || ready(s)) }
            if go { return state.withLock { $0.stopping } ? 0 : free }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { s -> Bool in
                    if s.stopping || self.ready(s) { return true }
                    s.waiter = c
                    return false
                }
                if ready { c.resume() }
            }
        }
    }

    func add(_ task: LeasedTask) {
        state.withLock { $0.entries[task.id] = Entry(task: task) }
    }

    func update(_ id: String, _ change: (inout Entry) -> Void) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard var e = s.entries[id] else { return nil }
            change(&e)
            s.entries[id] = e
            // A task that starts running may leave nothing buffered: the fetcher must look.
            guard s.waiter != nil, ready(s) else { return nil }
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }

    func entry(_ id: String) -> Entry? { state.withLock { $0.entries[id] } }

    /// Forgets a task and frees its slot.
    func remove(_ id: String) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.entries[id] = nil
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }

    /// Makes ``waitForFree()`` return 0 from now on (shutdown).
    func stopFetching() {
        state.withLock { s in
            s.stopping = true
            let w = s.waiter
            s.waiter = nil
            return w
        }?.resume()
    }

    var all: [Entry] { state.withLock { Array($0.entries.values) } }
    var runningCount: Int { state.withLock { $0.entries.values.filter(\.running).count } }
    var count: Int { state.withLock { $0.entries.count } }

    /// Ids held per queue, for lease renewal.
    func idsByQueue() -> [String: [String]] {
        state.withLock { s in
            Dictionary(grouping: s.entries.values, by: \.task.queue).mapValues { $0.map(\.task.id) }
        }
    }

    /// Marks every running task as abandoned (cold shutdown) and returns them.
    func abandonRunning() -> [Entry] {
        state.withLock { s in
            var out: [Entry] = []
            for (id, var e) in s.entries where e.running {
                e.abandoned = true
                s.entries[id] = e
                out.append(e)
            }
            return out
        }
    }
}
