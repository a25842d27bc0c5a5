import Foundation
import KaleRedis
import KaleTestSupport
import Testing

/// A script that touches keys it does not declare (as Kale's do: a record named by a popped
/// id, counters, history) must not run while its slot is split between two nodes: on the
/// target it would write a second copy of a key the source still holds (the next MIGRATE
/// fails with BUSYKEY, as `redis-cli --cluster reshard` did in ClusterFailoverTests), on the
/// source Redis aborts it half-way. The router makes it wait until the slot has moved.
@Suite(.serialized) struct ClusterScriptMigrationTests {
    /// INCRs an undeclared key (ARGV[1]) of the declared key's slot after writing the
    /// declared one, and returns the count.
    static let script = RedisScript(name: "test-undeclared", source: """
    redis.call('SET', KEYS[1], 'written')
    return redis.call('INCR', ARGV[1])
    """)

    @Test func aScriptWhoseDeclaredKeysHaveMovedWaitsForTheRestOfTheSlot() async throws {
        try await split(moving: "declared") { declared, undeclared, move, client in
            // Before the fix: sent to the target by ASK, it ran there, on a fresh `undeclared`.
            async let count = client.run(Self.script, keys: [declared], arguments: [undeclared])
            try await Task.sleep(for: .milliseconds(400))
            // BUSYKEY here if the script made its own `undeclared` on the target.
            try await onThread { try move.finish() }
            #expect(try await count.int == 6)
        }
    }

    @Test func aScriptWhoseUndeclaredKeyHasMovedDoesNotHalfRun() async throws {
        try await split(moving: "undeclared") { declared, undeclared, move, client in
            // Before the fix: run on the source, aborted at the INCR ("non local key") after
            // its SET had been applied.
            async let count = client.run(Self.script, keys: [declared], arguments: [undeclared])
            try await Task.sleep(for: .milliseconds(400))
            #expect(try move.cluster.ask(move.source, "GET", declared).string == "before", "the script ran half-way on the source")
            try await onThread { try move.finish() }
            #expect(try await count.int == 6)
            #expect(try move.cluster.ask(move.target, "GET", declared).string == "written")
        }
    }

    @Test func aStableSlotRunsTheScriptAtOnceAndTheGuardIsNeverWritten() async throws {
        let cluster = try await onThread { try ClusterDeployment(replicasPerMaster: 0) }
        defer { cluster.kill() }
        let client = RedisClient(configuration: cluster.configuration(poolSize: 1))
        defer { client.close() }
        try await client.send("SET", "kale:{stable}:undeclared", 5)
        #expect(try await client.run(Self.script, keys: ["kale:{stable}:declared"], arguments: ["kale:{stable}:undeclared"]).int == 6)
        #expect(try await client.send("EXISTS", "kale:{stable}:slot-guard").int == 0)
    }

    /// Two keys of one slot on a 3-master cluster, `declared` = "before" and `undeclared` = 5,
    /// with the slot half-moved to another master: only the key named `moving` is there.
    private func split(moving: String,
                       _ body: (String, String, ClusterDeployment.SlotMove, RedisClient) async throws -> Void) async throws {
        let cluster = try await onThread { try ClusterDeployment(replicasPerMaster: 0) }
        defer { cluster.kill() }
        let client = RedisClient(configuration: cluster.configuration(poolSize: 2))
        defer { client.close() }
        let declared = "kale:{migrating}:declared", undeclared = "kale:{migrating}:undeclared"
        try await client.send("SET", declared, "before")
        try await client.send("SET", undeclared, 5)
        let slot = try cluster.slot(of: declared)
        let source = try cluster.owner(ofSlot: slot)
        let target = try #require(try cluster.masters().first { $0.port != source.port })
        let move = try #require(try cluster.beginMove(slot, to: target))
        try move.migrate([moving == "declared" ? declared : undeclared])
        try await body(declared, undeclared, move, client)
        #expect(try cluster.ask(source, "CLUSTER", "COUNTKEYSINSLOT", slot).int == 0)
        #expect(try cluster.ask(target, "CLUSTER", "COUNTKEYSINSLOT", slot).int == 2, "only the two keys, no guard")
    }
}
