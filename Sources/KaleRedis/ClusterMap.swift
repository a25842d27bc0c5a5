import Foundation
import Logging
import Synchronization

/// Which master serves each of a Redis Cluster's 16384 slots, as last learned.
///
/// One map serves every client of the process to the same cluster (``shared(for:)``): a
/// reshard or failover is then learned once, by whichever connection meets it first. The map
/// is filled from `CLUSTER SLOTS` of any node that answers (the seeds first, then every node
/// it has learned), updated slot by slot by `MOVED` replies, and asked again whole when a
/// node cannot be reached, since its slots may have a new master by then.
final class ClusterMap: Sendable {
    private struct State {
        var owners = [RedisURL.HostPort?](repeating: nil, count: ClusterSlot.count)
        /// Every node ever named, masters and replicas, tried in turn for a refresh.
        var known: [RedisURL.HostPort]
        var filled = false
        /// Set when a node failed: the next lookup refreshes before routing.
        var stale = false
        var lastRefresh: ContinuousClock.Instant?
    }

    private let state: Mutex<State>
    /// Serialises refreshes, so the connections that all meet a failover share one `CLUSTER SLOTS`.
    private let refreshing = Mutex(())
    private let logger = Logger(label: "kale.redis.cluster")

    private init(seeds: [RedisURL.HostPort]) { state = Mutex(State(known: seeds)) }

    private static let registry = Mutex<[RedisURL: ClusterMap]>([:])

    /// The map of `url`'s cluster, made on first use.
    static func shared(for url: RedisURL) -> ClusterMap? {
        guard case .cluster(let seeds) = url.endpoint else { return nil }
        var key = url
        key.user = nil
        key.password = nil
        return registry.withLock { r in
            if let existing = r[key] { return existing }
            let made = ClusterMap(seeds: seeds)
            r[key] = made
            return made
        }
    }

    /// The master serving `slot`, refreshing the map first when it is empty or stale.
    func owner(of slot: Int, _ configuration: RedisConfiguration) throws -> RedisURL.HostPort {
        let (owner, fresh) = state.withLock { ($0.owners[slot], $0.filled && !$0.stale) }
        if let owner, fresh { return owner }
        try refresh(configuration)
        guard let owner = state.withLock({ $0.owners[slot] }) else {
            throw RedisError(.server, detail: "CLUSTERDOWN no node of the cluster serves slot \(slot)")
        }
        return owner
    }

    /// Every master serving slots, in slot order, refreshing the map first (a command for
    /// each node, such as `kale ping`'s, wants today's masters).
    func masters(_ configuration: RedisConfiguration) throws -> [RedisURL.HostPort] {
        try refresh(configuration)
        var seen: Set<RedisURL.HostPort> = [], out: [RedisURL.HostPort] = []
        for case let owner? in state.withLock({ $0.owners }) where seen.insert(owner).inserted { out.append(owner) }
        return out
    }

    /// Any master, for commands without keys.
    func anyNode(_ configuration: RedisConfiguration) throws -> RedisURL.HostPort {
        try owner(of: 0, configuration)
    }

    /// A `MOVED` reply: the slot has a new owner for good.
    func moved(_ slot: Int, to node: RedisURL.HostPort) {
        state.withLock { s in
            s.owners[slot] = node
            if !s.known.contains(node) { s.known.append(node) }
        }
    }

    /// A node could not be reached: its slots may have moved to a promoted replica.
    func markStale() { state.withLock { $0.stale = true } }

    /// Asks the nodes in turn for `CLUSTER SLOTS` until one answers.
    func refresh(_ configuration: RedisConfiguration) throws {
        try refreshing.withLock { _ in
            // Another connection refreshed while this one waited: its answer is as good.
            if let last = state.withLock({ $0.filled && !$0.stale ? $0.lastRefresh : nil }), last > .now - .milliseconds(50) { return }
            var failure: RedisError?
            for node in state.withLock({ $0.known }) {
                do {
                    try ask(node, configuration)
                    return
                } catch let error as RedisError {
                    failure = error
                }
            }
            throw failure ?? RedisError(.connectionRefused, detail: "no node of the cluster answered")
        }
    }

    private func ask(_ node: RedisURL.HostPort, _ configuration: RedisConfiguration) throws {
        var direct = configuration
        direct.url = configuration.url.clusterNode(node)
        let context = try RedisContext.connect(direct)
        let reply = try context.send([RedisCommand("CLUSTER", "SLOTS")])[0]
        if case .error(let message) = reply {
            throw RedisError(serverReply: message, to: RedisCommand("CLUSTER", "SLOTS"), user: direct.url.user)
        }
        guard let ranges = reply.array else { throw RedisError(.unexpectedReply, detail: "CLUSTER SLOTS from \(node) is not an array") }
        var owners = [RedisURL.HostPort?](repeating: nil, count: ClusterSlot.count)
        var named: [RedisURL.HostPort] = []
        for range in ranges {
            guard let parts = range.array, parts.count >= 3, let start = parts[0].int, let end = parts[1].int,
                  start >= 0, end < ClusterSlot.count, start <= end else { continue }
            let nodes = parts[2...].compactMap { Self.address($0, askedAt: node) }
            guard let master = nodes.first else { continue }
            for slot in start...end { owners[slot] = master }
            named += nodes
        }
        // A node still joining the cluster answers with no slots: not a map to route by.
        guard owners.contains(where: { $0 != nil }) else {
            throw RedisError(.server, detail: "CLUSTERDOWN \(node) knows no slots yet")
        }
        state.withLock { s in
            s.owners = owners
            for n in named where !s.known.contains(n) { s.known.append(n) }
            s.filled = true
            s.stale = false
            s.lastRefresh = .now
        }
        logger.debug("cluster slot map refreshed", metadata: ["from": "\(node)", "masters": "\(Set(owners.compactMap { $0 }).count)"])
    }

    /// `[host, port, id, …]` of CLUSTER SLOTS; an empty host means "the node you asked".
    private static func address(_ entry: RedisReply, askedAt node: RedisURL.HostPort) -> RedisURL.HostPort? {
        guard let fields = entry.array, fields.count >= 2, let host = fields[0].string, let port = fields[1].int, port > 0 else { return nil }
        return RedisURL.HostPort(host: host.isEmpty || host == "?" ? node.host : host, port: port)
    }
}
