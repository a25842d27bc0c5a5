import Foundation
import Kale
import Synchronization

/// The leases this worker holds (prefetched or running tasks), and the free capacity.
///
/// Keyed by lease (``LeasedTask/key``), not by task id: after a lease lapses the same worker
/// may lease the same task again, and the two runs must never share an entry.
/// The fetch loop waits here for a free slot; runners give slots back. The heartbeat reads
/// the table to renew leases and to describe running tasks.
final class HeldTasks: Sendable {
    struct Entry: Sendable {
        var task: LeasedTask
        var name: String = ""
        /// True from the moment a runner takes the task until its run returned.
        var running = false
        var startedAt: Date?
        /// When its run began, for the mean run time that sizes an adaptive prefetch.
        var runBegan: ContinuousClock.Instant?
        var progress: Double?
        var cancelRequested = false
        /// A cancel request reached the running task (its runner stops it): a request that came
        /// while the task waited to run did not, and the heartbeat delivers it once it runs.
        var cancelDelivered = false
        /// Set when a cold shutdown kills the run: a failure it causes is requeued uncounted.
        var killedByShutdown = false
        /// Set when the heartbeat learns that this lease is gone (another worker may run the
        /// task now): nothing of this run is recorded.
        var leaseLost = false
        /// Set while its outcome is being recorded: the lease ends with that write, so the
        /// heartbeat must not mistake its end for a lost lease. (It still renews it, in case
        /// the write has to wait out a Redis outage.)
        var finishing = false
        /// When Redis last confirmed this lease (the fetch, then each renewal).
        var renewedAt = ContinuousClock.now
        /// Progress not yet written to Redis (last value wins), and whether a write is under way.
        var unsentProgress: (fraction: Double, message: String?)?
        var progressInFlight = false
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var waiter: CheckedContinuation<Void, Never>?
        var stopping = false
        /// Set by a cold shutdown: no runner may start a task from now on.
        var killing = false
        /// The prefetch sized by run times; nil when a fixed one was configured.
        var adaptive: AdaptivePrefetch?
    }

    private let state: Mutex<State>
    let slots: Int
    private let fixedPrefetch: Int?

    /// - Parameters:
    ///   - slots: tasks that run at once.
    ///   - prefetch: tasks leased ahead of free slots; nil sizes it by run times (``AdaptivePrefetch``).
    init(slots: Int, prefetch: Int?) {
        self.slots = slots
        fixedPrefetch = prefetch
        state = Mutex(State(adaptive: prefetch == nil ? AdaptivePrefetch(slots: slots) : nil))
    }

    /// Tasks leased ahead of free slots now.
    var prefetch: Int { state.withLock { prefetch(in: $0) } }

    private func prefetch(in s: State) -> Int { s.adaptive?.current ?? fixedPrefetch ?? slots }

    /// The queues had nothing to lease: an adaptive prefetch forgets the runs it was sized by
    /// (the next tasks may be long ones) and starts again from one per slot. Returns the free
    /// slots then, which may be none (or fewer than none) while tasks still run.
    func wentIdle() -> Int {
        state.withLock { s in
            if s.adaptive != nil { s.adaptive = AdaptivePrefetch(slots: slots) }
            return slots + prefetch(in: s) - s.entries.count
        }
    }

    /// The fetch loop waits for `batch` free slots while tasks are still buffered, so a busy
    /// worker leases in batches (one script call for many tasks) instead of one per finished
    /// task: half the prefetch. With nothing buffered it fetches for any free slot, so no
    /// runner idles.
    private func ready(_ s: State) -> Bool {
        let prefetch = prefetch(in: s)
        let capacity = slots + prefetch
        let free = capacity - s.entries.count
        guard free > 0 else { return false }
        let batch = max(1, min(prefetch / 2, capacity))
        return free >= batch || !s.entries.values.contains { !$0.running }
    }

    /// Waits until at least one slot is free and returns how many are; 0 once stopping.
    /// Only the fetch loop calls this, so no one can take the slots between the answer and
    /// the fetch.
    func waitForFree() async -> Int {
        while true {
            let (free, go) = state.withLock { s in (slots + prefetch(in: s) - s.entries.count, s.stopping || ready(s)) }
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
        state.withLock { $0.entries[task.key] = Entry(task: task) }
    }

    /// Marks the lease's run as begun; false when it must not run: a cold shutdown began, or
    /// the lease is already lost (the heartbeat found it gone while the task waited).
    func beginRun(_ key: String, name: String) -> Bool {
        var began = false
        update(key) { e in
            guard !e.leaseLost else { return }
            e.running = true
            e.startedAt = Date()
            e.runBegan = .now
            e.name = name
            began = true
        }
        guard began else { return false }
        // Checked after the mark, under the same lock as the shutdown's: either the shutdown
        // sees this run as running (and kills it) or this run sees the shutdown.
        return state.withLock { s in
            guard s.killing else { return true }
            s.entries[key]?.running = false
            return false
        }
    }

    /// Stores the latest progress of a run; true when the caller must start the writer (none
    /// is under way), which then sends ``takeProgress(_:)`` until it returns nil.
    func setProgress(_ key: String, _ fraction: Double, _ message: String?) -> Bool {
        state.withLock { s in
            guard var e = s.entries[key], !e.leaseLost else { return false }
            e.progress = fraction
            e.unsentProgress = (fraction, message)
            let start = !e.progressInFlight
            e.progressInFlight = true
            s.entries[key] = e
            return start
        }
    }

    /// The progress to write next, or nil (and the writer ends) when all was written.
    func takeProgress(_ key: String) -> (fraction: Double, message: String?)? {
        state.withLock { s in
            guard var e = s.entries[key] else { return nil }
            let next = e.unsentProgress
            e.unsentProgress = nil
            if next == nil { e.progressInFlight = false }
            s.entries[key] = e
            return next
        }
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

    func entry(_ key: String) -> Entry? { state.withLock { $0.entries[key] } }

    /// Marks the lease's outcome as being recorded (see ``Entry/finishing``) and returns its
    /// entry: one lock for what the end of every run needs.
    func beginFinishing(_ key: String) -> Entry? {
        state.withLock { s in
            s.entries[key]?.finishing = true
            return s.entries[key]
        }
    }

    /// Every lease held on task `id` (usually one; two when an earlier lease lapsed).
    func entries(ofTask id: String) -> [Entry] {
        state.withLock { s in s.entries.values.filter { $0.task.id == id } }
    }

    /// Forgets a lease and frees its slot.
    func remove(_ key: String) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let began = s.entries.removeValue(forKey: key)?.runBegan { s.adaptive?.record(runBegan: began) }
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

    /// Leases held per queue, for renewal; lost ones are left out (nothing renews them).
    func leasesByQueue() -> [String: [LeasedTask]] {
        state.withLock { s in
            Dictionary(grouping: s.entries.values.filter { !$0.leaseLost }, by: \.task.queue).mapValues { $0.map(\.task) }
        }
    }

    /// Notes that Redis confirmed these leases (a renewal) at `time`.
    func renewed(_ keys: [String], at time: ContinuousClock.Instant) {
        state.withLock { s in for k in keys { s.entries[k]?.renewedAt = time } }
    }

    /// Begins a cold shutdown: no run may start from now on, and the runs under way (whose
    /// outcome is not being recorded yet) are marked killed. Returns those.
    func killRunning() -> [Entry] {
        state.withLock { s in
            s.killing = true
            var out: [Entry] = []
            for (key, var e) in s.entries where e.running && !e.finishing {
                e.killedByShutdown = true
                s.entries[key] = e
                out.append(e)
            }
            return out
        }
    }
}
