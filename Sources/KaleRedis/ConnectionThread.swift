import Foundation
import Logging
import Synchronization

/// A ``RedisConnection`` driven by its own OS thread, for async callers.
///
/// hiredis blocks, and Swift's cooperative pool has only as many threads as cores (2 here):
/// a blocking read on it would stall half of all async work. So each connection has a
/// dedicated thread; callers enqueue a request and await a continuation.
///
/// Automatic pipelining: requests that arrive while the thread is busy wait in the queue and
/// are sent together as one pipeline on the next round, so N concurrent callers cost about
/// one round trip instead of N.
final class ConnectionThread: Sendable {
    private struct Request {
        let commands: [RedisCommand]
        let completion: Completion
    }

    /// Where a request's replies meet its caller: either the caller is still spinning and
    /// finds the result, or it has parked a continuation that the thread resumes.
    private final class Completion: Sendable {
        private struct Slot {
            var result: Swift.Result<[RedisReply], any Error>?
            var continuation: CheckedContinuation<[RedisReply], any Error>?
        }
        private let slot = Mutex(Slot())
        let done = Atomic(false)

        func complete(_ result: Swift.Result<[RedisReply], any Error>) {
            let waiting = slot.withLock { s -> CheckedContinuation<[RedisReply], any Error>? in
                guard let c = s.continuation else {
                    s.result = result
                    return nil
                }
                s.continuation = nil
                return c
            }
            done.store(true, ordering: .releasing)
            waiting?.resume(with: result)
        }

        /// The result if it is already here, else parks `continuation` for `complete`.
        func park(_ continuation: CheckedContinuation<[RedisReply], any Error>) {
            let ready = slot.withLock { s -> Swift.Result<[RedisReply], any Error>? in
                if let r = s.result { return r }
                s.continuation = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }

        var result: Swift.Result<[RedisReply], any Error>? { slot.withLock { $0.result } }
    }

    private struct State {
        var queue: [Request] = []
        var sleeping = false
        var closed = false
        var inFlight = 0
    }

    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)
    /// Set with the queue under the lock, read without it while the thread spins.
    private let hasWork = Atomic(false)
    private let name: String
    /// The Redis user the connection logs in as, for the errors of refused commands.
    let user: String?

    /// How long the thread keeps looking for new work before it parks on the semaphore.
    ///
    /// A caller that awaits each reply sends its next command a few microseconds after being
    /// resumed. Parking in between adds a futex sleep and a wakeup of this thread to every
    /// command, on top of the round trip; on a VM, waking a thread whose vCPU went idle is
    /// particularly slow. The spin yields the core on every turn, so a caller woken on the
    /// same core still runs, and it is bounded so an idle client costs nothing.
    private static let spinBeforeParking = Duration.microseconds(50)

    init(configuration: RedisConfiguration, name: String, logger: Logger) {
        self.name = name
        user = configuration.url.user
        replySpin = configuration.replySpin
        let thread = Thread { [self] in
            self.run(RedisConnection(configuration: configuration, logger: logger))
        }
        thread.name = name
        thread.start()
    }

    /// Requests queued or being sent, to pick the least busy connection.
    var load: Int { state.withLock { $0.queue.count + $0.inFlight } }

    /// See ``RedisConfiguration/replySpin``. Only one caller in the process spins at a time,
    /// so the cooperative pool always keeps a thread for other work; callers with company
    /// suspend at once, as their replies come together anyway.
    ///
    /// A spin that runs out means replies are slow (a loaded machine, a distant server):
    /// spinning then only takes CPU from the work that is late, so nobody spins for the next
    /// ``spinPauseAfterMiss``.
    private let replySpin: Duration
    private static let spinPauseAfterMiss: UInt64 = 5_000_000  // ns
    private static let someoneSpins = Atomic(false)
    /// `DispatchTime` uptime (ns) before which nobody spins.
    private static let spinPausedUntil = Atomic<UInt64>(0)

    /// - Parameter spin: the caller is its client's only request in flight, and may wait for
    ///   the reply in place (see ``RedisConfiguration/replySpin``).
    func execute(_ commands: [RedisCommand], spin: Bool = false) async throws -> [RedisReply] {
        let completion = Completion()
        let (accepted, wake, alone) = state.withLock { s -> (Bool, Bool, Bool) in
            if s.closed { return (false, false, false) }
            let alone = s.queue.isEmpty && s.inFlight == 0
            s.queue.append(Request(commands: commands, completion: completion))
            hasWork.store(true, ordering: .releasing)
            let wake = s.sleeping
            s.sleeping = false
            return (true, wake, alone)
        }
        guard accepted else { throw RedisError(.closed, detail: "\(name) is closed") }
        if wake { wakeup.signal() }
        if spin, alone, let result = waitInPlace(for: completion) { return try result.get() }
        return try await withCheckedThrowingContinuation { completion.park($0) }
    }

    /// Spins up to ``replySpin`` for the reply; nil when spinning is off, paused, taken by
    /// another caller, or ran out.
    private func waitInPlace(for completion: Completion) -> Swift.Result<[RedisReply], any Error>? {
        guard replySpin > .zero,
              DispatchTime.now().uptimeNanoseconds >= Self.spinPausedUntil.load(ordering: .relaxed),
              Self.someoneSpins.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return nil }
        let done = Self.spin(for: replySpin) { completion.done.load(ordering: .acquiring) }
        Self.someoneSpins.store(false, ordering: .releasing)
        if done, let result = completion.result { return result }
        Self.spinPausedUntil.store(DispatchTime.now().uptimeNanoseconds + Self.spinPauseAfterMiss, ordering: .relaxed)
        return nil
    }

    /// Stops the thread after the requests already queued have been answered.
    func close() {
        let wake = state.withLock { s -> Bool in
            s.closed = true
            let wake = s.sleeping
            s.sleeping = false
            return wake
        }
        if wake { wakeup.signal() }
    }

    private func run(_ connection: RedisConnection) {
        var justWorked = false
        while true {
            if justWorked { spinForWork() }
            let (batch, closed) = state.withLock { s -> ([Request], Bool) in
                if s.queue.isEmpty {
                    s.sleeping = !s.closed
                    return ([], s.closed)
                }
                let batch = s.queue
                s.queue.removeAll(keepingCapacity: true)
                hasWork.store(false, ordering: .relaxed)
                s.inFlight = batch.count
                return (batch, false)
            }
            if batch.isEmpty {
                if closed { break }
                justWorked = false
                wakeup.wait()
                continue
            }
            process(batch, connection)
            justWorked = true
        }
        connection.close()
    }

    /// Waits up to ``spinBeforeParking`` for a request.
    private func spinForWork() {
        _ = Self.spin(for: Self.spinBeforeParking) { hasWork.load(ordering: .acquiring) }
    }

    /// Polls `condition` for up to `limit`, giving the core away on each turn; its last value.
    private static func spin(for limit: Duration, until condition: () -> Bool) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while !condition() {
            guard clock.now < deadline else { return false }
            sched_yield()
        }
        return true
    }

    private func process(_ batch: [Request], _ connection: RedisConnection) {
        let outcome: Swift.Result<[RedisReply], any Error>
        if batch.count == 1 {
            outcome = Swift.Result { try connection.execute(batch[0].commands) }
        } else {
            var commands: [RedisCommand] = []
            commands.reserveCapacity(batch.reduce(0) { $0 + $1.commands.count })
            for request in batch { commands.append(contentsOf: request.commands) }
            outcome = Swift.Result { try connection.execute(commands) }
        }
        // Idle again before anyone is resumed: a caller that sends its next command at once
        // must see this connection free, or pick() sends it to another, parked, thread.
        state.withLock { $0.inFlight = 0 }
        switch outcome {
        case .success(let replies) where batch.count == 1:
            batch[0].completion.complete(.success(replies))
        case .success(let replies):
            var offset = 0
            for request in batch {
                let n = request.commands.count
                request.completion.complete(.success(Array(replies[offset..<offset + n])))
                offset += n
            }
        case .failure(let error):
            for request in batch { request.completion.complete(.failure(error)) }
        }
    }
}
