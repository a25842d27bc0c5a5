import Foundation
public import KaleRedis

/// A real Redis Cluster on loopback: masters and their replicas, each a ``RedisServer`` of
/// its own (so all are killed at exit), joined by `redis-cli --cluster create`.
///
/// Nodes time each other out quickly (`cluster-node-timeout` 1000 ms by default), so a
/// failover test takes seconds. ``init(masters:replicasPerMaster:nodeTimeout:)`` returns once
/// every node agrees on the slots and on who replicates whom, and every replica is in sync:
/// before that a killed master may find no majority that knows its replica, and no failover.
///
/// Faults (``moveSlot(_:to:batch:pauseBetweenBatches:)``, ``reshard(slots:from:to:)``,
/// ``killMaster(_:)``) are in `ClusterDeployment+Resharding.swift`, what "settled" means in
/// `ClusterDeployment+Settling.swift`.
public final class ClusterDeployment: Sendable {
    /// Every node in start order; `redis-cli` makes the first `masters` of them masters.
    public let nodes: [RedisServer]

    public init(masters: Int = 3, replicasPerMaster: Int = 1, nodeTimeout: Duration = .milliseconds(1000)) throws {
        precondition(masters >= 3, "redis-cli --cluster create needs three masters at least")
        var nodes: [RedisServer] = []
        do {
            for _ in 0..<masters * (1 + replicasPerMaster) {
                nodes.append(try RedisServer(options: [
                    // Relative to the server's --dir, so each node keeps its own.
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    // The bus is at port + 10000 by default, past 65535 for much of the
                    // ephemeral range the data ports come from.
                    "--cluster-port", "\(try RedisServer.freePort())",
                    "--cluster-node-timeout", "\(nodeTimeout.milliseconds)",
                    // Any replica may be promoted however long it was cut off, and any master
                    // syncs a new replica at once instead of after 5 s (the defaults).
                    "--cluster-replica-validity-factor", "0", "--repl-diskless-sync-delay", "0",
                ]))
            }
            self.nodes = nodes
            try ClusterDeployment.redisCLI(["--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" }
                + ["--cluster-replicas", "\(replicasPerMaster)", "--cluster-yes"])
            try waitUntilSettled()
        } catch {
            // A cluster that never formed would otherwise hold its ports until the tests exit.
            for node in nodes { node.kill() }
            throw error
        }
    }

    /// Every node's address, as a client is given them.
    public var seeds: [RedisURL.HostPort] { nodes.map { .init(host: "127.0.0.1", port: $0.port) } }

    /// `redis+cluster://` naming every node.
    public var url: RedisURL { RedisURL(endpoint: .cluster(nodes: seeds)) }

    /// A client configuration for the cluster, with the tests' quick reconnects.
    public func configuration(poolSize: Int = 4) -> RedisConfiguration {
        RedisConfiguration(url: url, connectTimeout: .seconds(1), commandTimeout: .seconds(5), poolSize: poolSize,
                           reconnectBaseDelay: .milliseconds(20), reconnectMaxDelay: .milliseconds(500))
    }

    /// Kills every node still running.
    public func kill() {
        for node in nodes { node.kill() }
    }

    /// The hash slot of `key`, as the cluster computes it.
    public func slot(of key: String) throws -> Int {
        guard let slot = try anyNode({ try ask($0, "CLUSTER", "KEYSLOT", key) }).int else {
            throw RedisError(.unexpectedReply, detail: "CLUSTER KEYSLOT \(key) gave no number")
        }
        return slot
    }

    /// The master that serves `slot`, in the slot map of the first running node that answers.
    public func owner(ofSlot slot: Int) throws -> RedisServer {
        let owners = try anyNode(slotOwners)
        guard let node = nodes.first(where: { $0.port == owners[slot] }) else {
            throw RedisError(.unexpectedReply, detail: "no node of this deployment serves slot \(slot)")
        }
        return node
    }

    /// The slots `master` serves, in the slot map of the first running node that answers.
    public func slots(ownedBy master: RedisServer) throws -> [Int] {
        let owners = try anyNode(slotOwners)
        return owners.indices.filter { owners[$0] == master.port }
    }

    /// The running nodes that say they are masters, in start order.
    public func masters() throws -> [RedisServer] {
        try running.filter { try role($0).first?.string == "master" }
    }

    /// A running replica of `master` (which may be dead), by the replicas' own `ROLE`.
    public func replica(of master: RedisServer) throws -> RedisServer {
        guard let replica = try replicas(of: master).first else {
            throw RedisError(.unexpectedReply, detail: "no running node replicates port \(master.port)")
        }
        return replica
    }

    func replicas(of master: RedisServer) throws -> [RedisServer] {
        try running.filter { node in
            let role = try self.role(node)
            return role.first?.string == "slave" && role.count > 2 && role[2].int == master.port
        }
    }

    /// The node's cluster ID (`CLUSTER MYID`).
    public func nodeID(_ server: RedisServer) throws -> String {
        guard let id = try ask(server, "CLUSTER", "MYID").string else {
            throw RedisError(.unexpectedReply, detail: "CLUSTER MYID of port \(server.port) gave no ID")
        }
        return id
    }

    /// One command on a fresh connection to `server`; server errors are thrown.
    @discardableResult
    public func ask(_ server: RedisServer, _ name: String, _ arguments: any RedisArgument...) throws -> RedisReply {
        let connection = RedisConnection(configuration: RedisConfiguration(
            url: server.url, connectTimeout: .milliseconds(300), commandTimeout: .seconds(5), clientName: "kale-test"))
        return try connection.send(RedisCommand(name, arguments: arguments))
    }

    /// The nodes this process has not killed.
    var running: [RedisServer] { nodes.filter { ($0.processID ?? 0) > 0 } }

    func role(_ server: RedisServer) throws -> [RedisReply] {
        try ask(server, "ROLE").array ?? []
    }

    /// `body` of the first running node for which it does not throw.
    func anyNode<T>(_ body: (RedisServer) throws -> T) throws -> T {
        var last: any Error = RedisError(.connectionRefused, detail: "no node of the cluster is running")
        for node in running {
            do { return try body(node) } catch { last = error }
        }
        throw last
    }

    /// The port serving each slot in `server`'s `CLUSTER SLOTS`; 0 for a slot nobody serves.
    func slotOwners(_ server: RedisServer) throws -> [Int] {
        var owners = [Int](repeating: 0, count: 16384)
        for range in try ask(server, "CLUSTER", "SLOTS").array ?? [] {
            guard let fields = range.array, fields.count > 2, let first = fields[0].int, let last = fields[1].int,
                  let port = fields[2].array?.dropFirst().first?.int, first <= last, last < owners.count
            else { throw RedisError(.unexpectedReply, detail: "CLUSTER SLOTS of port \(server.port): \(range)") }
            owners.replaceSubrange(first...last, with: repeatElement(port, count: last - first + 1))
        }
        return owners
    }
}
