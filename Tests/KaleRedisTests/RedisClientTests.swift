import Foundation
import KaleRedis
import KaleTestSupport
import Testing

/// The async pool: large values and pipelines, many concurrent callers, dedicated blocking
/// connections, and a server that dies under it.
@Suite struct RedisClientTests {
    let shared = RedisServer.shared

    @Test func sixteenMiBValueRoundTrips() async throws {
        let key = testNamespace()
        let client = RedisClient(configuration: shared.configuration(poolSize: 1))
        defer { client.close() }
        var value = [UInt8](repeating: 0, count: 16 << 20)
        // A pattern with NULs everywhere and a marker at both ends, so truncation or a shift shows.
        for i in stride(from: 0, to: value.count, by: 4093) { value[i] = UInt8(truncatingIfNeeded: i &* 31 | 1) }
        value[value.count - 1] = 0xEE
        try await client.send("SET", key, value)
        let length = try await client.send("STRLEN", key).int
        let got = try await client.send("GET", key).bytes
        try await client.send("DEL", key)
        #expect(length == 16 << 20)
        #expect(got?.count == value.count)
        #expect(got == value)
    }

    @Test func nulBytesRoundTripThroughPool() async throws {
        let key = testNamespace()
        let client = RedisClient(configuration: shared.configuration())
        defer { client.close() }
        let value: [UInt8] = [0, 0, 0x4B, 0, 0xFF]
        try await client.send("SET", key, value)
        #expect(try await client.send("GET", key).bytes == value)
        #expect(try await client.send("GETDEL", key).bytes == value)
        #expect(try await client.send("GET", key) == .null)
    }

    @Test func hundredThousandPipelinedCommandsReplyInOrder() async throws {
        let key = testNamespace()
        let client = RedisClient(configuration: shared.configuration(poolSize: 2))
        defer { client.close() }
        let count = 100_000
        // Alternate INCR (replies count up) and ECHO of the index, so a lost, duplicated or
        // reordered reply cannot match.
        let commands = (0..<count).map { i in
            i % 2 == 0 ? RedisCommand("INCR", key) : RedisCommand("ECHO", "reply-\(i)")
        }
        let replies = try await client.pipeline(commands)
        try await client.send("DEL", key)
        #expect(replies.count == count)
        var wrong: [Int] = []
        for (i, reply) in replies.enumerated() {
            let expected: RedisReply = i % 2 == 0 ? .integer(Int64(i / 2 + 1)) : .bulk(Array("reply-\(i)".utf8))
            if reply != expected { wrong.append(i) }
        }
        #expect(wrong.isEmpty, "\(wrong.count) wrong replies, first at \(wrong.prefix(5))")
    }

    /// With and without waiting for replies in place: a spinning caller must get its own
    /// reply, never a neighbour's, however the replies and suspensions interleave.
    @Test(arguments: [Duration.zero, .microseconds(100)])
    func twoHundredConcurrentCallersEachGetTheirOwnReply(replySpin: Duration) async throws {
        let ns = testNamespace()
        var configuration = shared.configuration(poolSize: 4)
        configuration.replySpin = replySpin
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        let mismatches = try await withThrowingTaskGroup(of: [String].self) { group in
            for i in 0..<200 {
                group.addTask {
                    var problems: [String] = []
                    for round in 1...3 {
                        let echo = try await client.send("ECHO", "\(ns):\(i):\(round)").string
                        if echo != "\(ns):\(i):\(round)" { problems.append("echo \(i)/\(round) got \(echo ?? "nil")") }
                        let total = try await client.send("INCRBY", "\(ns):\(i)", i + 1).int
                        if total != (i + 1) * round { problems.append("incr \(i)/\(round) got \(String(describing: total))") }
                    }
                    return problems
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        try await client.send(RedisCommand("DEL", arguments: (0..<200).map { "\(ns):\($0)" }))
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test func oneAtATimeCallersWaitingInPlaceGetEveryReplyInOrder() async throws {
        let key = testNamespace()
        var configuration = shared.configuration(poolSize: 2)
        configuration.replySpin = .microseconds(100)
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        var wrong: [String] = []
        for i in 1...5000 {
            let n = try await client.send("INCR", key).int
            if n != i { wrong.append("\(i): \(String(describing: n))") }
        }
        let error = await redisError { try await client.send("HSET", key, "f", "v") }
        #expect(error?.code == .server, "a server error still throws from a spinning caller")
        try await client.send("DEL", key)
        #expect(wrong.isEmpty, "\(wrong.prefix(5))")
    }

    @Test(arguments: [Duration.zero, .microseconds(100)])
    func serverErrorsThrowFromSendAndStayValuesInPipeline(replySpin: Duration) async throws {
        let key = testNamespace()
        var configuration = shared.configuration()
        configuration.replySpin = replySpin
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        try await client.send("SET", key, "text")
        let error = await redisError { try await client.send("INCR", key) }
        #expect(error?.code == .server)
        #expect(error?.detail.contains("not an integer") == true)
        let replies = try await client.pipeline([RedisCommand("INCR", key), RedisCommand("GETDEL", key)])
        guard case .error = replies[0] else {
            Issue.record("expected an error reply, got \(replies[0])")
            return
        }
        #expect(replies[1].string == "text")
    }

    @Test func blockingPopTimeoutLeavesDedicatedConnectionUsable() async throws {
        let key = testNamespace()
        let client = RedisClient(configuration: shared.configuration(poolSize: 1))
        defer { client.close() }
        let connection = client.dedicatedConnection(name: "kale-test-blocking")
        defer { connection.close() }
        let start = ContinuousClock.now
        let popped = try await connection.send(.blocking(.seconds(1), "BLPOP", arguments: [key, 1]))
        #expect(popped == .null)
        #expect(ContinuousClock.now - start >= .milliseconds(900))
        #expect(try await connection.send(RedisCommand("ECHO", "next")).string == "next")
        let replies = try await connection.pipeline([RedisCommand("RPUSH", key, "a"), RedisCommand("LPOP", key)])
        #expect(replies == [.integer(1), .bulk(Array("a".utf8))])
    }

    @Test func blockingPopReceivesValuePushedWhileWaiting() async throws {
        let key = testNamespace()
        var configuration = shared.configuration(poolSize: 1)
        let name = "kale-test-\(UUID().uuidString.prefix(8))"
        configuration.clientName = name
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        let connection = client.dedicatedConnection(name: name)
        defer { connection.close() }
        async let popped = connection.send(.blocking(.seconds(5), "BLPOP", arguments: [key, 5]))
        // Push only once the server shows our connection blocked in BLPOP.
        let blocked = try await waitUntil {
            let clients = try await client.send("CLIENT", "LIST").string ?? ""
            return clients.split(separator: "\n").contains { $0.contains("name=\(name) ") && $0.contains("cmd=blpop") }
        }
        #expect(blocked)
        try await client.send("RPUSH", key, "job-1")
        #expect(try await popped.strings == [key, "job-1"])
    }

    @Test func closedClientRefusesCalls() async throws {
        let client = RedisClient(configuration: shared.configuration(poolSize: 2))
        #expect(try await client.send("PING").string == "PONG")
        client.close()
        let error = await redisError { try await client.send("PING") }
        #expect(error?.code == .closed)
    }

    @Test func closedPortFailsWithinConnectTimeout() async throws {
        let port = try closedPort()
        let client = RedisClient(configuration: quickConfiguration(RedisURL(endpoint: .tcp(host: "127.0.0.1", port: port))))
        defer { client.close() }
        let start = ContinuousClock.now
        let error = await redisError { try await client.send("PING") }
        let elapsed = ContinuousClock.now - start
        #expect(error?.code == .connectionRefused)
        #expect(elapsed < .seconds(2), "refusal took \(elapsed)")
    }

    @Test(.timeLimit(.minutes(1)))
    func killedServerFailsCallsThenPoolRecoversAfterRestart() async throws {
        let server = try await privateServer()
        defer { server.kill() }
        let key = testNamespace()
        let client = RedisClient(configuration: quickConfiguration(server.url, poolSize: 4))
        defer { client.close() }
        // Use every connection of the pool before the crash.
        let before = try await concurrentIncrements(client, key, count: 40)
        #expect(before.max() == 40)

        server.kill()
        for _ in 0..<8 {
            let error = await redisError { try await client.send("INCR", key) }
            #expect(error?.isConnectionFailure == true, "\(String(describing: error))")
        }

        try await onThread { try server.start() }
        // No persistence: the counter starts over, and every call after the restart works,
        // including those on connections that sat idle through the outage.
        let after = try await concurrentIncrements(client, key, count: 40)
        #expect(after.sorted() == Array(1...40))
    }

    private func concurrentIncrements(_ client: RedisClient, _ key: String, count: Int) async throws -> [Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<count { group.addTask { try await client.send("INCR", key).int ?? -1 } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }
}
