import KaleRedis

/// How many tasks a worker leases ahead of its free slots when `--prefetch` is not given:
/// enough to hold about ``budget`` of work per slot, by the mean run time seen so far.
///
/// A fixed prefetch is wrong for one kind of task or the other (decision 0031): one task per
/// slot starves children that run millisecond tasks (each waits on a fetch round trip; a
/// no-op drain ran at half the speed of prefetch 128), and many per slot lets one worker
/// hoard long tasks that an idle worker could run (Celery's prefetch problem). Sized by
/// time, the buffer of short tasks grows to the cap and that of long ones stays at one per
/// slot; what one worker holds back from the others is about ``budget`` of work per slot.
/// The size starts again from one per slot whenever the queues run dry: a burst of long tasks
/// after a drain of short ones is not leased all at once on the strength of the short ones.
struct AdaptivePrefetch: Sendable {
    /// Work buffered per slot that the size aims at.
    static let budget: Duration = .milliseconds(10)
    /// Most tasks buffered per slot, however short they are: a cap on what a crash of this
    /// worker leaves to the reaper, and on permits of a concurrency limit held in the buffer.
    static let perSlotCap = 64
    /// Weight of the newest run in the mean: about the last 20 runs count.
    static let weight = 0.05

    let slots: Int
    /// Runs begun before this (those of a burst that ended) do not count.
    let since: ContinuousClock.Instant
    /// Nil until a counted run has ended: sized as one per slot until then.
    private(set) var meanRunSeconds: Double?

    init(slots: Int, since: ContinuousClock.Instant = .now) {
        self.slots = slots
        self.since = since
    }

    /// Tasks to lease ahead of free slots now.
    var current: Int {
        guard let mean = meanRunSeconds, mean > 0 else { return slots }
        let perSlot = (Self.budget.seconds / mean).rounded(.down)
        return slots * Int(min(max(perSlot, 1), Double(Self.perSlotCap)))
    }

    /// Takes in a run that ended now (from its start to its recorded outcome), unless it began
    /// before ``since``.
    mutating func record(runBegan began: ContinuousClock.Instant, endedAt now: ContinuousClock.Instant = .now) {
        guard began >= since else { return }
        let seconds = max((now - began).seconds, 0)
        meanRunSeconds = meanRunSeconds.map { $0 + Self.weight * (seconds - $0) } ?? seconds
    }
}
