import Foundation
import Glibc
@testable import KaleRedis
import KaleTestSupport
import Testing

/// A client on a `redis+sentinel://` URL against real redis-server and redis-sentinel
/// processes: it finds the master, and follows it through a crash and a planned failover
/// without being restarted.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SentinelTests {
    @Test func theClientFindsTheMasterEvenWhenTheFirstSentinelIsDown() async throws {
        let d = try SentinelDeployment()
        defer { for s in d.servers + d.sentinels { s.kill() } }
        // A sentinel that is down first in the list: the client goes on to the next.
        let dead = try RedisServer.freePort()
        var url = d.url
        guard case .sentinel(let nodes, let master) = url.endpoint else { Issue.record("not a sentinel URL"); return }
        url.endpoint = .sentinel(nodes: [.init(host: "127.0.0.1", port: dead)] + nodes, master: master)
        var configuration = d.configuration()
        configuration.url = url
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        try await client.send("SET", "k", "v")
        let role = try await client.send("ROLE").array?.first?.string
        #expect(role == "master")
        let replica = d.servers[1]
        // Written to the master, not the replica: the replica has it only by replication.
        _ = try await client.send("WAIT", 1, 2000)
        #expect(try d.ask(replica, "GET", "k").string == "v")
        #expect(try d.ask(replica, "ROLE").array?.first?.string == "slave")
    }

    /// Told of one sentinel only, the client learns the others from it, and finds the new
    /// master through them after that sentinel and the master are both gone.
    @Test func sentinelsTheURLDoesNotNameAreLearnedAndUsed() async throws {
        let d = try SentinelDeployment()
        defer { for s in d.servers + d.sentinels { s.kill() } }
        var url = d.url
        guard case .sentinel(_, let master) = url.endpoint else { Issue.record("not a sentinel URL"); return }
        url.endpoint = .sentinel(nodes: [.init(host: "127.0.0.1", port: d.sentinels[0].port)], master: master)
        var configuration = d.configuration()
        configuration.url = url
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        try await client.send("SET", "before", "1")
        _ = try await client.send("WAIT", 1, 2000)
        let resolver = try #require(SentinelResolver.shared(for: url))
        #expect(Set(resolver.nodes.map(\.port)) == Set(d.sentinels.map(\.port)), "every sentinel known: \(resolver.nodes)")

        d.sentinels[0].kill()
        let old = try d.currentMaster()
        old.kill()
        let promoted = try d.waitForFailover(from: old)
        var written = false
        let deadline = ContinuousClock.now + .seconds(20)
        while !written, ContinuousClock.now < deadline {
            do {
                try await client.send("SET", "after", "1")
                written = true
            } catch {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(written, "the client found the new master through the sentinels it learned")
        #expect(try d.ask(promoted, "GET", "after").string == "1")
    }

    @Test func aKilledMasterIsReplacedAndTheSameClientCarriesOn() async throws {
        let d = try SentinelDeployment()
        defer { for s in d.servers + d.sentinels { s.kill() } }
        let client = RedisClient(configuration: d.configuration())
        defer { client.close() }
        try await client.send("SET", "before", "1")
        _ = try await client.send("WAIT", 1, 2000)
        let old = try d.currentMaster()
        old.kill()
        let killed = ContinuousClock.now
        // Writes fail while no master is known, then land on the promoted replica.
        var failures = 0
        var written = false
        while ContinuousClock.now - killed < .seconds(30) {
            do {
                try await client.send("SET", "after", "2")
                written = true
                break
            } catch let error as RedisError where error.isTransient {
                failures += 1
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let took = ContinuousClock.now - killed
        print("sentinel: kill -9 of master \(old.port); writes resumed after \(took) (\(failures) refused meanwhile)")
        #expect(written, "a write succeeded after the failover")
        let new = try d.currentMaster()
        #expect(new.port != old.port)
        #expect(try d.ask(new, "GET", "after").string == "2")
        #expect(try await client.send("GET", "before").string == "1", "the replicated key survived the master")
    }

    @Test func aPlannedFailoverLosesNoWriteThatAReplicaAcknowledged() async throws {
        let d = try SentinelDeployment()
        defer { for s in d.servers + d.sentinels { s.kill() } }
        let client = RedisClient(configuration: d.configuration(poolSize: 2))
        defer { client.close() }
        let old = try d.currentMaster()
        // Writes go on while the sentinels fail over. Until the old master hears that it was
        // demoted it takes writes that nobody will keep (Sentinel's documented window); WAIT
        // tells those apart, as the new master no longer replicates from it. A write counts
        // as done only once a replica acknowledged it, else it is sent again.
        let failover = Task.detached {
            try await Task.sleep(for: .milliseconds(100))
            _ = try d.ask(d.sentinels[0], "SENTINEL", "FAILOVER", SentinelDeployment.masterName)
        }
        var resent = 0
        for i in 1...300 {
            while true {
                if let replies = try? await client.pipeline([RedisCommand("SADD", "s", i), RedisCommand("WAIT", 1, 1000)]),
                   replies[0].int != nil, (replies[1].int ?? 0) >= 1 { break }
                resent += 1
                try await Task.sleep(for: .milliseconds(20))
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        try await failover.value
        let new = try d.waitForFailover(from: old)
        print("sentinel: planned failover \(old.port) -> \(new.port) during 300 acknowledged writes; \(resent) sent again")
        #expect(try d.ask(new, "SCARD", "s").int == 300, "every acknowledged write is on the new master")
        for _ in 0..<4 {
            let role = try await client.send("ROLE").array?.first?.string
            #expect(role == "master", "every connection left the old master")
        }
    }
}

/// The resolver's generation, which every connection compares before sending.
@Suite(.serialized, .timeLimit(.minutes(2))) struct SentinelResolverTests {
    /// One connection's timeout used to make every connection of the process reconnect, and
    /// ask the sentinels, although the master had not moved.
    @Test func aFailureThatFindsTheSameMasterMovesNoConnection() throws {
        let d = try SentinelDeployment()
        defer { for s in d.servers + d.sentinels { s.kill() } }
        var url = d.url
        // A resolver of its own: the registry is keyed by the URL.
        url.sentinelUser = "default"
        let resolver = try #require(SentinelResolver.shared(for: url))
        let configuration = RedisConfiguration(url: url)
        let (first, generation) = try resolver.master(configuration)
        resolver.invalidate(generation)
        let (again, after) = try resolver.master(configuration)
        #expect(again == first)
        #expect(after == generation, "the same address keeps the generation")
        resolver.switched(to: RedisURL.HostPort(host: "127.0.0.1", port: d.servers[1].port))
        #expect(resolver.generation != generation, "a different address moves the connections")
    }
}
