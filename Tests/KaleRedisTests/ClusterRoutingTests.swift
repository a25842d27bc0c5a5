@testable import KaleRedis
import Testing

@Suite struct ClusterRoutingTests {
    @Test func slotsMatchTheClusterSpec() {
        // The spec's own check value, and slots redis-server gives for CLUSTER KEYSLOT.
        #expect(ClusterSlot.crc16(Array("123456789".utf8)[...]) == 0x31C3)
        #expect(ClusterSlot.of("foo") == 12182)
        #expect(ClusterSlot.of("bar") == 5061)
        #expect(ClusterSlot.of("{user1000}.following") == ClusterSlot.of("{user1000}.followers"))
        #expect(ClusterSlot.of("kale:{images}:t:1") == ClusterSlot.of("images"))
        // An empty tag is no tag: the whole key is hashed. Only the first `{` opens one.
        #expect(ClusterSlot.of("foo{}{bar}") == Int(ClusterSlot.crc16(Array("foo{}{bar}".utf8)[...]) & 0x3FFF))
        #expect(ClusterSlot.of("foo{{bar}}zap") == ClusterSlot.of("{bar"))
        #expect(ClusterSlot.of("foo{bar}{zap}") == ClusterSlot.of("bar"))
    }

    @Test func commandsAreRoutedByTheirFirstKey() {
        #expect(ClusterSlot.of(RedisCommand("EVALSHA", "abc", 2, "kale:{q}:a", "kale:{q}:b", "x")) == ClusterSlot.of("q"))
        #expect(ClusterSlot.of(RedisCommand("EVALSHA", "abc", 0, "x")) == nil)
        #expect(ClusterSlot.of(RedisCommand("BLPOP", "kale:{q}:notify", 1)) == ClusterSlot.of("q"))
        #expect(ClusterSlot.of(RedisCommand("XREAD", "COUNT", 10, "BLOCK", 100, "STREAMS", "kale:{q}:events", "$")) == ClusterSlot.of("q"))
        #expect(ClusterSlot.of(RedisCommand("MEMORY", "USAGE", "kale:{q}:t:1")) == ClusterSlot.of("q"))
        for keyless in [RedisCommand("WAIT", 1, 100), RedisCommand("MULTI"), RedisCommand("EXEC"), RedisCommand("PING"), RedisCommand("PUBLISH", "c", "m")] {
            #expect(ClusterSlot.of(keyless) == nil, "\(keyless.name)")
        }
    }

    @Test func keylessCommandsTravelWithTheWriteBeforeThem() {
        let a = ClusterSlot.of("a"), b = ClusterSlot.of("b")
        let units = ClusterRouter.units([
            RedisCommand("PING"), RedisCommand("SET", "{a}1", "x"), RedisCommand("WAIT", 1, 10),
            RedisCommand("MULTI"), RedisCommand("HSET", "{b}1", "f", "v"), RedisCommand("LPUSH", "{b}2", "x"), RedisCommand("EXEC"),
            RedisCommand("WAIT", 1, 10), RedisCommand("GET", "{a}2"),
        ])
        #expect(units == [
            .init(range: 0..<3, slot: a, isTransaction: false),
            .init(range: 3..<8, slot: b, isTransaction: true),
            .init(range: 8..<9, slot: a, isTransaction: false),
        ])
        #expect(ClusterRouter.units([RedisCommand("PING"), RedisCommand("INFO")]) == [.init(range: 0..<2, slot: nil, isTransaction: false)])
    }

    @Test func redirectionsAreRead() {
        #expect(ClusterRouter.redirection(in: [.status("OK"), .error("MOVED 3999 127.0.0.1:6381")])
            == .moved(slot: 3999, node: .init(host: "127.0.0.1", port: 6381)))
        #expect(ClusterRouter.redirection(in: [.error("ASK 3999 [::1]:6381")]) == .ask(slot: 3999, node: .init(host: "::1", port: 6381)))
        #expect(ClusterRouter.redirection(in: [.error("TRYAGAIN Multiple keys request during rehashing of slot")]) == .retryLater)
        #expect(ClusterRouter.redirection(in: [.error("CLUSTERDOWN The cluster is down")]) == .retryLater)
        #expect(ClusterRouter.redirection(in: [.error("ERR MOVED is not a thing"), .integer(1)]) == nil)
    }
}
