import Foundation
import Glibc
import KaleRedis
import KaleTestSupport
import Testing

/// Runs blocking code (a synchronous `RedisConnection`, starting a server) on a thread of its
/// own: the cooperative pool has two threads here, and tests run in parallel on it.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Swift.Result { try body() }) }
        thread.start()
    }
}

/// A private server for a test that stops, kills or reconfigures it; started off the pool.
func privateServer(options: [String] = [], password: String? = nil, aclUser: (name: String, password: String)? = nil) async throws -> RedisServer {
    let name = aclUser?.name
    let secret = aclUser?.password
    return try await onThread {
        try RedisServer(options: options, password: password, aclUser: name.map { ($0, secret ?? "") })
    }
}

/// Runs `body` and returns the `RedisError` it throws; records an issue when it succeeds or
/// throws something else.
func redisError(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async -> RedisError? {
    do {
        try await body()
        Issue.record("expected a RedisError, but the call succeeded", sourceLocation: sourceLocation)
    } catch let error as RedisError {
        return error
    } catch {
        Issue.record("expected a RedisError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// A loopback port that was free a moment ago and on which nobody listens.
func closedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw RedisError(.io, detail: "socket failed") }
    defer { close(fd) }
    let port = try bindLoopback(fd, listening: false)
    // Closed without listen(): a connect to it is refused at once.
    return port
}

/// A loopback socket that listens but never accepts nor answers: the kernel completes the
/// TCP handshake from the backlog, so a client connects and then waits for a reply forever.
final class SilentListener: Sendable {
    let port: Int
    private let fd: Int32

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RedisError(.io, detail: "socket failed") }
        port = try bindLoopback(fd, listening: true)
    }

    deinit { close(fd) }
}

private func bindLoopback(_ fd: Int32, listening: Bool) throws -> Int {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let rc = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
            guard bind(fd, p, length) == 0 else { return -1 }
            if listening, listen(fd, 16) != 0 { return -1 }
            return getsockname(fd, p, &length)
        }
    }
    guard rc == 0 else { throw RedisError(.io, detail: "bind/listen: \(String(cString: strerror(errno)))") }
    let port = Int(UInt16(bigEndian: address.sin_port))
    // 6379 is the developer's own Redis; a test must never aim at it (the ephemeral range
    // excludes it, so this is only a guard).
    guard port != 6379 else { throw RedisError(.io, detail: "the kernel picked port 6379") }
    return port
}

/// A configuration for `url` with short timeouts and backoff, so fault tests stay quick.
func quickConfiguration(
    _ url: RedisURL,
    poolSize: Int = 1,
    connectTimeout: Duration = .seconds(2),
    commandTimeout: Duration = .seconds(5)
) -> RedisConfiguration {
    RedisConfiguration(url: url, connectTimeout: connectTimeout, commandTimeout: commandTimeout, poolSize: poolSize,
                       reconnectBaseDelay: .milliseconds(20), reconnectMaxDelay: .milliseconds(200))
}
