import Foundation
import KaleRedis

/// The load generators: each pushes `payload` onto one list in the bench namespace and
/// returns what it measured. Commands are built per call, as application code would.
struct RedisLoad: Sendable {
    let key: String
    let payload: [UInt8]

    /// Throughput, and per-call latencies in microseconds (sorted) when they were recorded.
    struct Outcome {
        var opsPerSecond: Double
        var latencies: [Double] = []
    }

    private var command: RedisCommand { RedisCommand("LPUSH", key, payload) }

    /// `count` LPUSH, each awaited before the next, through the async pool.
    func oneAtATime(_ client: RedisClient, count: Int) async throws -> Outcome {
        var latencies: [Double] = []
        latencies.reserveCapacity(count)
        let clock = ContinuousClock()
        let start = clock.now
        var before = start
        for _ in 0..<count {
            try await client.send(command)
            let after = clock.now
            latencies.append(microseconds(after - before))
            before = after
        }
        latencies.sort()
        return Outcome(opsPerSecond: Double(count) / (before - start).seconds, latencies: latencies)
    }

    /// `count` LPUSH through a synchronous connection on a thread of its own (the thread
    /// also connects and warms up, outside the timing).
    func oneAtATime(_ configuration: RedisConfiguration, count: Int) async throws -> Outcome {
        try await onThread { [self] in
            let connection = RedisConnection(configuration: configuration)
            for _ in 0..<min(1000, count) { try connection.send(command) }
            var latencies: [Double] = []
            latencies.reserveCapacity(count)
            let clock = ContinuousClock()
            let start = clock.now
            var before = start
            for _ in 0..<count {
                try connection.send(command)
                let after = clock.now
                latencies.append(microseconds(after - before))
                before = after
            }
            latencies.sort()
            return Outcome(opsPerSecond: Double(count) / (before - start).seconds, latencies: latencies)
        }
    }

    /// `count` LPUSH in explicit pipelines of `depth`, one pipeline awaited at a time.
    func pipelined(_ client: RedisClient, count: Int, depth: Int) async throws -> Outcome {
        let start = ContinuousClock.now
        var sent = 0
        while sent < count {
            let n = min(depth, count - sent)
            let replies = try await client.pipeline((0..<n).map { _ in command })
            if case .error(let message) = replies[0] { throw RedisError(.server, detail: message) }
            sent += n
        }
        return Outcome(opsPerSecond: Double(count) / (ContinuousClock.now - start).seconds)
    }

    /// The same pipelines through a synchronous connection on its own thread.
    func pipelined(_ configuration: RedisConfiguration, count: Int, depth: Int) async throws -> Outcome {
        try await onThread { [self] in
            let connection = RedisConnection(configuration: configuration)
            _ = try connection.execute((0..<depth).map { _ in command })
            let start = ContinuousClock.now
            var sent = 0
            while sent < count {
                let n = min(depth, count - sent)
                _ = try connection.execute((0..<n).map { _ in command })
                sent += n
            }
            return Outcome(opsPerSecond: Double(count) / (ContinuousClock.now - start).seconds)
        }
    }

    /// `count` LPUSH from `callers` concurrent tasks, each awaiting its own calls in turn.
    func concurrent(_ client: RedisClient, count: Int, callers: Int) async throws -> Outcome {
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<callers {
                let share = count / callers + (caller < count % callers ? 1 : 0)
                group.addTask {
                    for _ in 0..<share { try await client.send(command) }
                }
            }
            try await group.waitForAll()
        }
        return Outcome(opsPerSecond: Double(count) / (ContinuousClock.now - start).seconds)
    }

    /// Empties the list between runs, so every run starts alike and nothing is left behind.
    func clean(_ client: RedisClient) async throws {
        try await client.send("DEL", key)
    }
}

private func microseconds(_ d: Duration) -> Double { d.seconds * 1e6 }

/// Runs blocking work (a synchronous connection, a child process, starting a server) on a
/// thread of its own, so the cooperative pool stays free for the async clients.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Swift.Result { try body() }) }
        thread.start()
    }
}
