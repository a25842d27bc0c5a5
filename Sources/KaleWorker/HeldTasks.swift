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

    init(capacity: Int) { self.capacity = capacity }

    /// Waits until at least one slot is free and returns how many are; 0 once stopping.
    /// Only the fetch loop calls this, so no one can take the slots between the answer and
    /// the fetch.
    func waitForFree() async -> Int {
        while true {
            let free = state.withLock { $0.stopping ? 0 : capacity - $0.entries.count }
            if free > 0 || state.withLock({ $0.stopping }) { return max(free, 0) }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { s -> Bool in
                    if s.stopping || s.entries.count < capacity { return true }
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
        state.withLock { s in
            if var e = s.entries[id] {
                change(&e)
                s.entries[id] = e
            }
        }
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
