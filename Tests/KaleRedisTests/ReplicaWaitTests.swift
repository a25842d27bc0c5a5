import Foundation
import KaleTestSupport
import Testing

@testable import KaleRedis

/// WAIT and the resend rule of a Sentinel connection, against a real master and replica.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ReplicaWaitTests {
    /// A WAIT behind a script the server did not hold answered before the script ran (after
    /// the reload). Redis 7.0 makes every WAIT wait for the master's whole offset, so there it
    /// happened to come out right; servers that track each client's own last write (7.2 and
    /// later) counted the replica for a write it never saw. The WAIT is now asked again.
    @Test func aWaitBehindAReloadedScriptCountsTheScriptsWrite() async throws {
        let (master, replica) = try RedisServer.masterWithReplica()
        defer { master.kill(); replica.kill() }
        let script = RedisScript(name: "writes", source: "redis.call('INCR', KEYS[1]) return 1")
        let connection = RedisConnection(configuration: master.configuration(poolSize: 1))
        _ = try connection.send(RedisCommand("SCRIPT", "FLUSH"))
        // The replica has everything so far: a WAIT sent before the script's write would pass.
        #expect(try connection.send(.blocking(.seconds(2), "WAIT", arguments: [1, 2000])).int == 1)
        let fresh = RedisConnection(configuration: master.configuration(poolSize: 1))
        let replies = try await replica.frozen {
            try fresh.execute([script.command(keys: ["n"], arguments: []), .blocking(.milliseconds(300), "WAIT", arguments: [1, 300])])
        }
        #expect(replies[0].int == 1, "the script ran after its reload")
        #expect(replies[1].int == 0, "a frozen replica acknowledged nothing, so WAIT must say 0: \(replies[1])")
    }

    /// The rule by which a demoted master's refusal is resent: only when nothing before it wrote.
    @Test func onlyRefusalsWithNoWriteBeforeThemAreResent() {
        let get = RedisCommand("GET", "k"), incr = RedisCommand("INCR", "k"), multi = RedisCommand("MULTI")
        let script = RedisScript(name: "s", source: "return 1").command(keys: [], arguments: [])
        #expect(RedisConnection.resendable([incr, incr], demotedAt: 0))
        #expect(RedisConnection.resendable([get, multi, incr, RedisCommand("EXEC")], demotedAt: 2))
        #expect(!RedisConnection.resendable([script, RedisCommand("WAIT", 1, 100)], demotedAt: 1), "the script ran: never twice")
        #expect(!RedisConnection.resendable([incr, get], demotedAt: 1))
    }
}
