import Foundation
import Synchronization
import KaleRedis
import KaleTestSupport
import Testing

/// Login failures and a server that dies, restarts or stalls; each on a private server.
extension RedisConnectionTests {
    private static let secret = "s3cret-\(UUID().uuidString.prefix(6))"

    private func ping(_ configuration: RedisConfiguration) async throws -> String? {
        try await onThread { try RedisConnection(configuration: configuration).send(RedisCommand("PING")).string }
    }

    @Test func requirepassRightWrongAndMissingPassword() async throws {
        let server = try await privateServer(password: Self.secret)
        defer { server.kill() }
        #expect(server.url.password == Self.secret)
        #expect(try await ping(quickConfiguration(server.url)) == "PONG")

        var wrong = server.url
        wrong.password = "not-the-\(Self.secret)"
        let refused = await redisError { _ = try await ping(quickConfiguration(wrong)) }
        #expect(refused?.code == .authentication)
        #expect(refused?.isConnectionFailure == false)
        #expect(refused.map { !"\($0)".contains(Self.secret) } == true, "\(String(describing: refused))")

        // Without a password the first command (CLIENT SETNAME, or the caller's own) is refused.
        var none = server.url
        none.password = nil
        let missing = await redisError { _ = try await ping(quickConfiguration(none)) }
        #expect(missing?.code == .authentication)
        #expect(missing?.detail.contains("NOAUTH") == true, "\(String(describing: missing))")
        var anonymous = quickConfiguration(none)
        anonymous.clientName = nil
        let first = await redisError { _ = try await ping(anonymous) }
        #expect(first?.detail.contains("NOAUTH") == true, "\(String(describing: first))")
    }

    @Test func aclUserRightAndWrongPassword() async throws {
        let server = try await privateServer(aclUser: (name: "kale-worker", password: Self.secret))
        defer { server.kill() }
        #expect(server.url.user == "kale-worker")
        let configuration = quickConfiguration(server.url)
        let whoami = try await onThread {
            try RedisConnection(configuration: configuration).send(RedisCommand("ACL", "WHOAMI")).string
        }
        #expect(whoami == "kale-worker")

        var wrong = server.url
        wrong.password = "not-the-\(Self.secret)"
        var unknown = server.url
        unknown.user = "nobody"
        for url in [wrong, unknown] {
            let error = await redisError { _ = try await ping(quickConfiguration(url)) }
            #expect(error?.code == .authentication)
            #expect(error.map { !"\($0)".contains(Self.secret) } == true)
            #expect(error?.detail.contains("user '\(url.user ?? "")'") == true)
        }
    }

    @Test func killedServerFailsCallsThenReconnectsAfterRestart() async throws {
        let server = try await privateServer()
        defer { server.kill() }
        let key = testNamespace()
        let configuration = quickConfiguration(server.url)
        try await onThread {
            let connection = RedisConnection(configuration: configuration)
            #expect(try connection.send(RedisCommand("INCR", key)).int == 1)
            server.kill()
            // Every call during the outage fails fast with a connection error.
            for _ in 0..<3 {
                do {
                    try connection.send(RedisCommand("INCR", key))
                    Issue.record("a call succeeded while the server was down")
                } catch let error as RedisError {
                    #expect(error.isConnectionFailure, "\(error)")
                }
            }
            #expect(!connection.isConnected)
            try server.start()
            // The server lost its data (no persistence): the key starts over.
            #expect(try connection.send(RedisCommand("INCR", key)).int == 1)
            #expect(connection.isConnected)
        }
    }

    @Test func idleConnectionSurvivesServerRestart() async throws {
        let server = try await privateServer()
        defer { server.kill() }
        let configuration = quickConfiguration(server.url)
        try await onThread {
            let connection = RedisConnection(configuration: configuration)
            #expect(try connection.send(RedisCommand("PING")).string == "PONG")
            // Nothing is sent while the server is away: the connection only holds a socket
            // the old server closed. The first call afterwards must not fail on it.
            server.kill()
            try server.start()
            #expect(try connection.send(RedisCommand("PING")).string == "PONG")
        }
    }

    @Test func stalledServerTimesOutThenConnectionRecovers() async throws {
        let server = try await privateServer()
        defer { server.kill() }
        let pauser = quickConfiguration(server.url)
        let impatient = quickConfiguration(server.url, commandTimeout: .milliseconds(300))
        try await onThread {
            let connection = RedisConnection(configuration: impatient)
            #expect(try connection.send(RedisCommand("PING")).string == "PONG")
            try RedisConnection(configuration: pauser).send(RedisCommand("CLIENT", "PAUSE", 1500, "ALL"))
            let start = ContinuousClock.now
            do {
                try connection.send(RedisCommand("PING"))
                Issue.record("PING answered during CLIENT PAUSE")
            } catch let error as RedisError {
                #expect(error.code == .timeout, "\(error)")
            }
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= .milliseconds(250) && elapsed < .milliseconds(1400), "timed out after \(elapsed)")
            try RedisConnection(configuration: pauser).send(RedisCommand("CLIENT", "UNPAUSE"))
            #expect(try connection.send(RedisCommand("PING")).string == "PONG")
        }
    }

    @Test func serverKilledDuringLargeWriteIsAnErrorNotACrash() async throws {
        let server = try await privateServer()
        defer { server.kill() }
        let key = testNamespace()
        let configuration = quickConfiguration(server.url)
        // 64 MiB per pipeline: the write is still going when the server dies, so hiredis
        // writes into a reset socket, which raises SIGPIPE unless it is kept away.
        let value = [UInt8](repeating: 0x61, count: 16 << 20)
        let commands = (0..<4).map { RedisCommand("SET", "\(key):\($0)", value) }
        let started = Atomic(false)
        let outcome = Task.detached {
            try await onThread { () -> RedisError? in
                let connection = RedisConnection(configuration: configuration)
                for _ in 0..<50 {
                    started.store(true, ordering: .relaxed)
                    do { _ = try connection.execute(commands) } catch let error as RedisError { return error }
                }
                return nil
            }
        }
        #expect(await waitUntil { started.load(ordering: .relaxed) })
        server.kill()
        let error = try await outcome.value
        #expect(error?.isConnectionFailure == true, "\(String(describing: error))")
    }
}
