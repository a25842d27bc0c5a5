import Glibc
import KaleRedis
import Synchronization

extension RedisServer {
    /// Freezes the server process with SIGSTOP while `body` runs, then lets it go on (SIGCONT).
    ///
    /// A stalled host, for real: connections stay open and connects still complete (the kernel
    /// accepts into the backlog), but nothing is answered until the server is thawed.
    public func frozen<T>(_ body: () async throws -> T) async throws -> T {
        guard let pid = processID, pid > 0 else {
            throw RedisError(.unexpectedReply, detail: "only a server this process started can be frozen")
        }
        Glibc.kill(pid, SIGSTOP)
        defer { Glibc.kill(pid, SIGCONT) }
        return try await body()
    }
}

/// Runs `body` in a task of its own and returns how it ended, or nil while it still runs after
/// `limit`: a test of something that must not hang then fails instead of hanging.
public func outcome<T: Sendable>(
    within limit: Duration, _ body: @escaping @Sendable () async throws -> T
) async -> Result<T, any Error>? {
    let box = OutcomeBox<T>()
    // Unstructured: a hung body must not hold the test, which reports it and moves on.
    Task {
        do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
    }
    await waitUntil(timeout: limit) { box.value != nil }
    return box.value
}

private final class OutcomeBox<T: Sendable>: Sendable {
    private let result = Mutex<Result<T, any Error>?>(nil)
    func set(_ value: Result<T, any Error>) { result.withLock { $0 = value } }
    var value: Result<T, any Error>? { result.withLock { $0 } }
}
