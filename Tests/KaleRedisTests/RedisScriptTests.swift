import KaleRedis
import KaleTestSupport
import Testing

/// EVALSHA with a locally computed SHA1, and recovery when the server has forgotten the script.
/// Tests that run SCRIPT FLUSH use a private server: the flush would race other tests' scripts.
@Suite struct RedisScriptTests {
    private static let increment = RedisScript(
        name: "increment", source: "return redis.call('INCRBY', KEYS[1], ARGV[1])")
    private static let append = RedisScript(
        name: "append", source: "redis.call('RPUSH', KEYS[1], ARGV[1]); return redis.call('LLEN', KEYS[1])")

    @Test(arguments: [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000])
    func sha1MatchesServer(length: Int) async throws {
        let source = "return '" + String(repeating: "x", count: length) + "'"
        let script = RedisScript(name: "len\(length)", source: source)
        let client = RedisClient(configuration: RedisServer.shared.configuration(poolSize: 1))
        defer { client.close() }
        let loaded = try await client.send("SCRIPT", "LOAD", source).string
        #expect(script.sha1 == loaded)
        #expect(script.sha1.count == 40)
    }

    @Test func scriptRunsAgainAfterScriptFlush() async throws {
        let server = try await privateServer()
        defer { server.kill() }
        let key = testNamespace()
        let client = RedisClient(configuration: server.configuration(poolSize: 1))
        defer { client.close() }
        #expect(try await client.run(Self.increment, keys: [key], arguments: [5]).int == 5)
        try await client.send("SCRIPT", "FLUSH")
        #expect(try await client.send("SCRIPT", "EXISTS", Self.increment.sha1).array == [.integer(0)])
        #expect(try await client.run(Self.increment, keys: [key], arguments: [2]).int == 7)
        #expect(try await client.send("SCRIPT", "EXISTS", Self.increment.sha1).array == [.integer(1)])
    }

    @Test func pipelineOfTwoScriptsRecoversAfterFlush() async throws {
        let server = try await privateServer()
        defer { server.kill() }
        let key = testNamespace()
        let client = RedisClient(configuration: server.configuration(poolSize: 1))
        defer { client.close() }
        try await client.send("SCRIPT", "FLUSH")
        let commands: [RedisCommand] = (1...6).flatMap { i in
            [
                Self.increment.command(keys: ["\(key):n"], arguments: [i]),
                RedisCommand("ECHO", "between-\(i)"),
                Self.append.command(keys: ["\(key):l"], arguments: ["item-\(i)"]),
            ]
        }
        let replies = try await client.pipeline(commands)
        var expected: [RedisReply] = []
        var total = 0
        for i in 1...6 {
            total += i
            expected += [.integer(Int64(total)), .bulk(Array("between-\(i)".utf8)), .integer(Int64(i))]
        }
        #expect(replies == expected)
        #expect(try await client.send("LRANGE", "\(key):l", 0, -1).strings == (1...6).map { "item-\($0)" })

        // Once more after a second flush, on the synchronous connection.
        try await client.send("SCRIPT", "FLUSH")
        let configuration = server.configuration()
        let again = try await onThread {
            try RedisConnection(configuration: configuration).execute([
                Self.append.command(keys: ["\(key):l"], arguments: ["x"]),
                Self.increment.command(keys: ["\(key):n"], arguments: [100]),
            ])
        }
        #expect(again == [.integer(7), .integer(121)])
    }

    @Test func scriptErrorIsThrownAsServerError() async throws {
        let failing = RedisScript(name: "fails", source: "return redis.error_reply('KALE_BAD something went wrong')")
        let client = RedisClient(configuration: RedisServer.shared.configuration(poolSize: 1))
        defer { client.close() }
        let error = await redisError { try await client.run(failing, keys: [], arguments: []) }
        #expect(error?.code == .server)
        #expect(error?.detail.contains("KALE_BAD") == true)
    }

    @Test func brokenScriptReportsLoadFailure() async throws {
        let broken = RedisScript(name: "broken", source: "this is not lua")
        let client = RedisClient(configuration: RedisServer.shared.configuration(poolSize: 1))
        defer { client.close() }
        let error = await redisError { try await client.run(broken, keys: [], arguments: []) }
        #expect(error?.code == .server)
        #expect(error?.detail.contains("SCRIPT LOAD") == true, "\(String(describing: error))")
        #expect(try await client.send("PING").string == "PONG")
    }

    @Test func commandCarriesKeysThenArguments() {
        let command = Self.increment.command(keys: ["a", "b"], arguments: [3, "x"])
        #expect(command.name == "EVALSHA")
        #expect(command.arguments.map { String(decoding: $0, as: UTF8.self) } == ["EVALSHA", Self.increment.sha1, "2", "a", "b", "3", "x"])
        #expect(command.script == Self.increment)
    }
}
