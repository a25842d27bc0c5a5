import Foundation
import KaleRedis

extension ClusterDeployment {
    /// Waits until the cluster has settled: every running node says `cluster_state:ok`, all of
    /// them map every slot to the same running master and see the same running nodes in the
    /// same roles (the killed ones as failed), and every replica's link to its master is up.
    ///
    /// `cluster_state:ok` alone is not enough: it stays ok on a node that has not yet heard
    /// of a kill, or of a slot that moved.
    public func waitUntilSettled(timeout: Duration = .seconds(30)) throws {
        try wait("the cluster did not settle", timeout: timeout, until: settled)
    }

    /// Polls `condition` until it holds; `condition` says in its argument what it waits for.
    func wait(_ failure: String, timeout: Duration = .seconds(30), until condition: (inout String) throws -> Bool) throws {
        let deadline = ContinuousClock.now + timeout
        var last = "nothing asked yet"
        while ContinuousClock.now < deadline {
            do {
                if try condition(&last) { return }
            } catch {
                last = "\(error)"
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw RedisError(.timeout, detail: "\(failure) within \(timeout): \(last)")
    }

    /// What one node says of the cluster.
    private struct View: Equatable {
        /// The port serving each slot, 0 for none.
        var owners: [Int]
        /// Port → the port of the master it replicates, 0 for a master; healthy nodes only.
        var members: [Int: Int]
    }

    func settled(_ last: inout String) throws -> Bool {
        let running = self.running
        var agreed: View?
        for node in running {
            guard try ask(node, "CLUSTER", "INFO").string?.contains("cluster_state:ok") == true else {
                last = "port \(node.port) is not in cluster_state:ok"
                return false
            }
            let view = View(owners: try slotOwners(node), members: try members(seenBy: node))
            guard Set(view.members.keys) == Set(running.map(\.port)) else {
                last = "port \(node.port) sees ports \(view.members.keys.sorted()) as healthy"
                return false
            }
            guard Set(view.owners).allSatisfy({ view.members[$0] == 0 }) else {
                last = "port \(node.port) has slots that no healthy master serves"
                return false
            }
            if let agreed, agreed != view {
                last = "ports \(running[0].port) and \(node.port) disagree about the slots or the roles"
                return false
            }
            agreed = view
        }
        for node in running where agreed?.members[node.port] != 0 {
            guard try ask(node, "INFO", "replication").string?.contains("master_link_status:up") == true else {
                last = "replica \(node.port) is not in sync with its master"
                return false
            }
        }
        return true
    }

    /// The healthy nodes in `server`'s `CLUSTER NODES`, as ``View/members``. A node flagged
    /// failing, unreachable or still in the handshake, or whose link is down, is left out.
    private func members(seenBy server: RedisServer) throws -> [Int: Int] {
        let lines = (try ask(server, "CLUSTER", "NODES").string ?? "").split(whereSeparator: \.isNewline)
        // <id> <ip:port@cport[,hostname]> <flags> <master id or -> <ping> <pong> <epoch> <link> <slots>…
        let fields = lines.map { $0.split(separator: " ") }.filter { $0.count >= 8 }
        var ports: [Substring: Int] = [:]
        for f in fields {
            ports[f[0]] = f[1].split(separator: "@").first?.split(separator: ":").last.flatMap { Int($0) }
        }
        let unhealthy: Set<Substring> = ["fail", "fail?", "handshake", "noaddr"]
        var members: [Int: Int] = [:]
        for f in fields where f[7] == "connected" && unhealthy.isDisjoint(with: f[2].split(separator: ",")) {
            guard let port = ports[f[0]] else { continue }
            members[port] = f[3] == "-" ? 0 : ports[f[3]] ?? -1
        }
        return members
    }
}
