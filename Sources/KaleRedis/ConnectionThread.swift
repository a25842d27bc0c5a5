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
        let continuation: CheckedContinuation<[RedisReply], any Error>
    }

    private struct State {
        var queue: [Request] = []
        var sleeping = false
        var closed = false
        var inFlight = 0
    }

    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)
    private let name: String

    init(configuration: RedisConfiguration, name: String, logger: Logger) {
        self.name = name
        let thread = Thread { [self] in
            self.run(RedisConnection(configuration: configuration, logger: logger))
        }
        thread.name = name
        thread.start()
    }

    /// Requests queued or being sent, to pick the least busy connection.
    var load: Int { state.withLock { $0.queue.count + $0.inFlight } }

    func execute(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        try await withCheckedThrowingContinuation { continuation in
            let (accepted, wake) = state.withLock { s -> (Bool, Bool) in
                if s.closed { return (false, false) }
                s.queue.append(Request(commands: commands, continuation: continuation))
                let wake = s.sleeping
                s.sleeping = false
                return (true, wake)
            }
            if !accepted {
                continuation.resume(throwing: RedisError(.closed, detail: "\(name) is closed"))
            } else if wake {
                wakeup.signal()
            }
        }
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
        while true {
            let (batch, closed) = state.withLock { s -> ([Request], Bool) in
                if s.queue.isEmpty {
                    s.sleeping = !s.closed
                    return ([], s.closed)
                }
                let batch = s.queue
                s.queue.removeAll(keepingCapacity: true)
                s.inFlight = batch.count
                return (batch, false)
            }
            if batch.isEmpty {
                if closed { break }
                wakeup.wait()
                continue
            }
            process(batch, connection)
            state.withLock { $0.inFlight = 0 }
        }
        connection.close()
    }

    private func process(_ batch: [Request], _ connection: RedisConnection) {
        if batch.count == 1 {
            let request = batch[0]
            do { request.continuation.resume(returning: try connection.execute(request.commands)) }
            catch { request.continuation.resume(throwing: error) }
            return
        }
        var commands: [RedisCommand] = []
        commands.reserveCapacity(batch.reduce(0) { $0 + $1.commands.count })
        for request in batch { commands.append(contentsOf: request.commands) }
        do {
            let replies = try connection.execute(commands)
            var offset = 0
            for request in batch {
                let n = request.commands.count
                request.continuation.resume(returning: Array(replies[offset..<offset + n]))
                offset += n
            }
        } catch {
            for request in batch { request.continuation.resume(throwing: error) }
        }
    }
}
