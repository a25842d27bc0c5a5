import KaleRedis
import KaleTestSupport
import Testing

@Suite struct SmokeTests {
    @Test func pingAndRoundTrip() async throws {
        let client = RedisClient(configuration: RedisServer.shared.configuration())
        #expect(try await client.send("PING").string == "PONG")
        let key = testNamespace() + ":k"
        try await client.send("SET", key, [UInt8]([0, 1, 2, 0]))
        #expect(try await client.send("GET", key).bytes == [0, 1, 2, 0])
        let replies = try await client.pipeline((0..<100).map { _ in RedisCommand("INCR", key + ":n") })
        #expect(replies.last?.int == 100)
        let script = RedisScript(name: "t", source: "return redis.call('INCRBY', KEYS[1], ARGV[1])")
        try await client.send("SCRIPT", "FLUSH")
        #expect(try await client.run(script, keys: [key + ":s"], arguments: [5]).int == 5)
        let sub = RedisSubscriber(configuration: RedisServer.shared.configuration()) { channel, payload in
            print("got", channel, payload)
        }
        try await sub.subscribe(key + ":ch")
        #expect(try await client.send("PUBLISH", key + ":ch", "hi").int == 1)
        sub.shutdown()
    }
}

