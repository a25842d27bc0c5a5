import Kale
import Synchronization

/// This worker's standing in the election of the schedule leader: a lease in Redis with a
/// fencing token (``Keys/scheduleLeader``).
///
/// The lease is trusted locally for 90% of its length from the moment the request that
/// won or renewed it was sent, so a clock-rate difference or a slow reply cannot make this
/// worker act after Redis let the lease go; the fencing token covers what is left (a pause
/// between the check and a fire), since the fire script refuses a token older than one
/// it has seen.
final class ScheduleLeadership: Sendable {
    private struct State {
        var token = 0
        var validUntil = ContinuousClock.now
        var renewAt = ContinuousClock.now
    }

    private let worker: Worker
    private let state = Mutex(State())

    init(worker: Worker) { self.worker = worker }

    private var lease: Duration { worker.configuration.scheduleLease }

    /// The fencing token while this worker may act as leader, else nil.
    var token: Int? {
        state.withLock { $0.token > 0 && ContinuousClock.now < $0.validUntil ? $0.token : nil }
    }

    /// When leadership should next be asked for (renewed or tried).
    var nextCheck: ContinuousClock.Instant { state.withLock { $0.renewAt } }

    /// Wins or renews the lease when due. Returns true when this call won it anew (the
    /// caller forgets what it knew of the schedules' state: another leader fired meanwhile).
    func refresh() async throws -> Bool {
        let now = ContinuousClock.now
        guard now >= nextCheck else { return false }
        let (token, detail) = try await worker.broker.lead(worker: worker.id, lease: lease)
        return state.withLock { s in
            if token > 0 {
                s.token = token
                s.validUntil = now + lease * 0.9
                s.renewAt = now + lease / 3
                return detail == 2
            }
            s.token = 0
            // Another worker leads: ask again when its lease would end, or within a second.
            s.renewAt = now + min(.milliseconds(max(detail, 50)), .seconds(1))
            return false
        }
    }

    /// Stops acting as leader at once and gives the lease up (a fire was fenced: someone newer
    /// leads, or this token is older than one a schedule saw, and renewing it would not help).
    func lost() async {
        await abdicate()
        state.withLock { $0.renewAt = ContinuousClock.now + .seconds(1) }
    }

    /// Gives the lease up, so another worker takes over without waiting for it to expire.
    func abdicate() async {
        let token = state.withLock { s -> Int in
            defer { s.token = 0 }
            return s.token
        }
        guard token > 0 else { return }
        try? await worker.broker.abdicate(worker: worker.id, token: token)
    }
}
