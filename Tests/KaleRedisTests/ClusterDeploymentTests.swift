import Foundation
import KaleRedis
import KaleTestSupport
import Testing

/// The test cluster itself, against real redis-server processes: the cluster it makes, and
/// that each of its faults leaves the servers in the state it promises, since the routing
/// tests take those states on trust.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ClusterDeploymentTests {
    @Test func aNewClusterHasThreeMastersEachWithAReplicaInSync() async throws {
        let cluster = try await onThread { try ClusterDeployment() }
        defer { cluster.kill() }
        let masters = try cluster.masters()
        #expect(masters.count == 3)
        let replicas = try masters.map { try cluster.replica(of: $0) }
        #expect(Set((masters + replicas).map(\.port)) == Set(cluster.nodes.map(\.port)), "six distinct nodes")
        for node in cluster.nodes {
            let info = try cluster.ask(node, "CLUSTER", "INFO").string ?? ""
            #expect(info.contains("cluster_state:ok"), "port \(node.port): \(info)")
            #expect(info.contains("cluster_slots_assigned:16384"), "port \(node.port): \(info)")
            #expect(info.contains("cluster_known_nodes:6"), "port \(node.port): \(info)")
        }
        for (master, replica) in zip(masters, replicas) {
            let role = try cluster.ask(replica, "ROLE").array ?? []
            #expect(role.first?.string == "slave" && role[2].int == master.port)
            #expect(try cluster.ask(replica, "INFO", "replication").string?.contains("master_link_status:up") == true)
        }
        let counts = try masters.map { try cluster.slots(ownedBy: $0).count }
        #expect(counts.reduce(0, +) == 16384)
        #expect(counts.allSatisfy { $0 > 5000 }, "about a third each: \(counts)")
        #expect(cluster.url == RedisURL(endpoint: .cluster(nodes: cluster.nodes.map { .init(host: "127.0.0.1", port: $0.port) })))
    }

    @Test func moveSlotCarriesEveryKeyOfTheSlotToTheTarget() async throws {
        let cluster = try await onThread { try ClusterDeployment() }
        defer { cluster.kill() }
        let (slot, keys, source, _) = try write(50, tagged: "kale-move", to: cluster)
        let target = try #require(try cluster.masters().first { $0.port != source.port })
        try await onThread { try cluster.moveSlot(slot, to: target) }
        #expect(try cluster.owner(ofSlot: slot).port == target.port)
        #expect(try cluster.ask(source, "CLUSTER", "COUNTKEYSINSLOT", slot).int == 0)
        #expect(try cluster.ask(target, "CLUSTER", "COUNTKEYSINSLOT", slot).int == 50)
        for key in keys { #expect(try cluster.ask(target, "GET", key).string == "value of \(key)") }
        // Every other node, replicas included, now sends a client for the slot to the target.
        for node in cluster.nodes where node.port != target.port {
            let error = await redisError { try cluster.ask(node, "GET", keys[0]) }
            #expect(error?.serverCode == "MOVED" && error?.detail.hasSuffix("127.0.0.1:\(target.port)") == true,
                    "port \(node.port): \(String(describing: error))")
        }
    }

    @Test func aPausedMoveLeavesTheSlotHalfMigratedForAWhile() async throws {
        let cluster = try await onThread { try ClusterDeployment() }
        defer { cluster.kill() }
        let (slot, keys, source, _) = try write(30, tagged: "kale-ask", to: cluster)
        let target = try #require(try cluster.masters().first { $0.port != source.port })
        async let moved: Void = onThread {
            try cluster.moveSlot(slot, to: target, batch: 10, pauseBetweenBatches: .milliseconds(400))
        }
        // Some keys have left the source and some not: it sends clients to the target for the
        // ones gone, and refuses a command over both kinds until the move is done.
        let probe = RedisConnection(configuration: source.configuration(poolSize: 1))
        var replies: [RedisReply] = []
        let deadline = ContinuousClock.now + .seconds(5)
        repeat {
            try await Task.sleep(for: .milliseconds(20))
            replies = try probe.execute(keys.map { RedisCommand("GET", $0) })
        } while !(replies.contains(where: isAsk) && replies.contains(where: { $0.string != nil })) && ContinuousClock.now < deadline
        let gone = try #require(replies.firstIndex(where: isAsk), "no key was answered with ASK: \(replies)")
        let kept = try #require(replies.firstIndex { $0.string != nil }, "every key had left already")
        #expect("\(replies[gone])".contains("127.0.0.1:\(target.port)"), "\(replies[gone])")
        let refused = await redisError { try probe.send(RedisCommand("MGET", keys[gone], keys[kept])) }
        #expect(refused?.serverCode == "TRYAGAIN", "\(String(describing: refused))")
        // The target serves a moved key to a client that says it was sent there.
        let asking = RedisConnection(configuration: target.configuration(poolSize: 1))
        let answer = try asking.execute([RedisCommand("ASKING"), RedisCommand("GET", keys[gone])])
        #expect(answer.last?.string == "value of \(keys[gone])")
        try await moved
        #expect(try cluster.owner(ofSlot: slot).port == target.port)
        #expect(try cluster.ask(target, "CLUSTER", "COUNTKEYSINSLOT", slot).int == 30)
    }

    @Test func reshardMovesTheGivenNumberOfSlots() async throws {
        let cluster = try await onThread { try ClusterDeployment() }
        defer { cluster.kill() }
        let masters = try cluster.masters()
        let (from, to) = (masters[0], masters[1])
        let before = (from: Set(try cluster.slots(ownedBy: from)), to: Set(try cluster.slots(ownedBy: to)))
        try await onThread { try cluster.reshard(slots: 100, from: from, to: to) }
        let after = (from: Set(try cluster.slots(ownedBy: from)), to: Set(try cluster.slots(ownedBy: to)))
        let moved = before.from.subtracting(after.from)
        #expect(moved.count == 100)
        #expect(after.from.isSubset(of: before.from))
        #expect(after.to == before.to.union(moved))
        // A key in a moved slot: written to its new owner, and every other node agrees.
        let connection = RedisConnection(configuration: to.configuration(poolSize: 1))
        let candidates = (0..<3000).map { "kale-reshard-\($0)" }
        let slots = try connection.execute(candidates.map { RedisCommand("CLUSTER", "KEYSLOT", $0) })
        let key = try #require(zip(candidates, slots).first { moved.contains($0.1.int ?? -1) }?.0)
        try connection.send(RedisCommand("SET", key, "here"))
        for node in cluster.nodes where node.port != to.port {
            let error = await redisError { try cluster.ask(node, "GET", key) }
            #expect(error?.serverCode == "MOVED" && error?.detail.hasSuffix("127.0.0.1:\(to.port)") == true,
                    "port \(node.port): \(String(describing: error))")
        }
        // redis-cli's refusal reaches the test with what it printed.
        let replica = try cluster.replica(of: from)
        let refused = await redisError { try cluster.reshard(slots: 1, from: replica, to: to) }
        #expect(refused?.detail.contains("is not known or not a master") == true, "\(String(describing: refused))")
    }

    @Test func killMasterPromotesItsReplicaWithTheAcknowledgedWrites() async throws {
        let cluster = try await onThread { try ClusterDeployment() }
        defer { cluster.kill() }
        let (slot, keys, master, acknowledged) = try write(20, tagged: "kale-kill", to: cluster)
        #expect(acknowledged == 1, "the replica has the keys")
        let replica = try cluster.replica(of: master)
        let killed = ContinuousClock.now
        let promoted = try await onThread { try cluster.killMaster(master) }
        print("cluster: kill -9 of master \(master.port); replica \(promoted.port) took over in \(ContinuousClock.now - killed)")
        #expect(promoted.port == replica.port)
        #expect(try cluster.ask(promoted, "ROLE").array?.first?.string == "master")
        #expect(try cluster.owner(ofSlot: slot).port == promoted.port)
        let masters = try cluster.masters().map(\.port)
        #expect(masters.count == 3 && masters.contains(promoted.port) && !masters.contains(master.port), "\(masters)")
        for key in keys { #expect(try cluster.ask(promoted, "GET", key).string == "value of \(key)") }
        for node in cluster.nodes where node.port != master.port {
            #expect(try cluster.ask(node, "CLUSTER", "INFO").string?.contains("cluster_state:ok") == true, "port \(node.port)")
        }
    }

    /// Writes `count` keys with one hash tag, so one slot, to the master that owns it, with a
    /// plain connection; returns the slot, the keys, that master and how many replicas
    /// acknowledged the writes (WAIT on the same connection: from 7.2 a WAIT counts only
    /// its own client's writes).
    private func write(_ count: Int, tagged tag: String, to cluster: ClusterDeployment) throws -> (Int, [String], RedisServer, Int) {
        let keys = (0..<count).map { "{\(tag)}:\($0)" }
        let slot = try cluster.slot(of: keys[0])
        let owner = try cluster.owner(ofSlot: slot)
        let connection = RedisConnection(configuration: owner.configuration(poolSize: 1))
        let replies = try connection.execute(keys.map { RedisCommand("SET", $0, "value of \($0)") }
            + [.blocking(.seconds(2), "WAIT", arguments: [1, 2000])])
        #expect(replies.dropLast().allSatisfy { $0.string == "OK" }, "\(replies)")
        #expect(try cluster.ask(owner, "CLUSTER", "COUNTKEYSINSLOT", slot).int == count)
        return (slot, keys, owner, replies.last?.int ?? 0)
    }

    private func isAsk(_ reply: RedisReply) -> Bool {
        if case .error(let message) = reply { return message.hasPrefix("ASK ") }
        return false
    }
}
