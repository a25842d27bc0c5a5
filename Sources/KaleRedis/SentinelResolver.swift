import Foundation
import Logging
import Synchronization

/// Finds the master that a set of Sentinels names, and tells connections when it moved.
///
/// It follows the Redis Sentinel client spec: ask each sentinel in turn with
/// `SENTINEL get-master-addr-by-name`, move the first that answers to the front of the list,
/// and confirm the answer with `ROLE` on the master itself (``RedisContext/connect(_:requireMaster:)``)
/// because a sentinel may still name a master that has just been demoted. The other sentinels
/// each one knows (`SENTINEL sentinels`) join the list, as the spec's optional refresh has it.
///
/// One resolver serves every connection of the process to the same sentinels and master
/// (``shared(for:)``): a failover then costs one round of sentinel queries, not one per
/// connection, and a `+switch-master` seen by the ``SentinelWatcher`` moves every connection
/// at once. Each connection remembers the ``generation`` it connected under; when the
/// generation moves on, it drops its connection before sending anything more.
final class SentinelResolver: Sendable {
    private struct State {
        var nodes: [RedisURL.HostPort]
        var master: RedisURL.HostPort?
        /// The address connections were last sent to, kept across invalidation: a fresh answer
        /// naming it again moves nobody.
        var lastAddress: RedisURL.HostPort?
        /// The sentinel whose answer `master` came from.
        var answeredBy: RedisURL.HostPort?
        var watching = false
    }

    let url: RedisURL
    let masterName: String
    private let state: Mutex<State>
    /// Serialises resolution: connections that reconnect together after a failover wait for
    /// the first one's answer instead of each querying every sentinel.
    private let resolving = Mutex(())
    private let currentGeneration = Atomic<UInt64>(1)
    private let logger = Logger(label: "kale.redis.sentinel")

    private init(url: RedisURL, nodes: [RedisURL.HostPort], master: String) {
        self.url = url
        masterName = master
        state = Mutex(State(nodes: nodes))
    }

    private static let registry = Mutex<[RedisURL: SentinelResolver]>([:])

    /// The resolver of `url` (a Sentinel URL), made on first use.
    static func shared(for url: RedisURL) -> SentinelResolver? {
        guard case .sentinel(let nodes, let master) = url.endpoint else { return nil }
        // The master's database and credentials do not change where it is.
        var key = url
        key.database = 0
        key.user = nil
        key.password = nil
        return registry.withLock { r in
            if let existing = r[key] { return existing }
            let made = SentinelResolver(url: key, nodes: nodes, master: master)
            r[key] = made
            return made
        }
    }

    /// Changes each time the known master changes; a connection made under an older value
    /// must reconnect.
    var generation: UInt64 { currentGeneration.load(ordering: .acquiring) }

    /// The sentinels in the order they are asked, the last one that answered first.
    var nodes: [RedisURL.HostPort] { state.withLock { $0.nodes } }

    /// The master's address and the generation it belongs to: the one known, else asked of
    /// the sentinels.
    ///
    /// - Throws: ``RedisError`` `.connectionRefused` when no sentinel names a master (all
    ///   down, or none knows `masterName`), with what each one said; `.authentication` when
    ///   every reachable sentinel refused the login.
    func master(_ configuration: RedisConfiguration) throws -> (RedisURL.HostPort, UInt64) {
        if let known = known() { return known }
        return try resolving.withLock { _ in
            if let known = known() { return known }
            let (address, sentinel) = try ask(configuration)
            let generation = state.withLock { s -> UInt64 in
                s.master = address
                s.answeredBy = sentinel
                // Only a different address moves the connections that are still healthy: a
                // timeout on one connection must not make every other one reconnect.
                guard s.lastAddress != address else { return currentGeneration.load(ordering: .acquiring) }
                s.lastAddress = address
                return currentGeneration.add(1, ordering: .acquiringAndReleasing).newValue
            }
            startWatching(configuration)
            return (address, generation)
        }
    }

    private func known() -> (RedisURL.HostPort, UInt64)? {
        state.withLock { s in s.master.map { ($0, currentGeneration.load(ordering: .acquiring)) } }
    }

    /// Forgets the master known under `generation` (its connection failed, it answered
    /// READONLY, or ROLE said replica), so the next connect asks the sentinels again. A
    /// newer answer is kept.
    ///
    /// The generation stays: connections that still work keep working, and move only if the
    /// sentinels then name another address.
    func invalidate(_ generation: UInt64) {
        state.withLock { s in
            guard currentGeneration.load(ordering: .acquiring) == generation else { return }
            s.master = nil
        }
    }

    /// The master a sentinel named turned out not to be one (ROLE): that sentinel goes to the
    /// back of the list, so a lagging or partitioned one is not asked first again and again.
    func distrustLastAnswer(_ generation: UInt64) {
        state.withLock { s in
            guard currentGeneration.load(ordering: .acquiring) == generation else { return }
            s.master = nil
            if let bad = s.answeredBy, let i = s.nodes.firstIndex(of: bad), s.nodes.count > 1 {
                s.nodes.append(s.nodes.remove(at: i))
            }
        }
    }

    /// A sentinel announced `+switch-master`: every connection moves to `address`.
    func switched(to address: RedisURL.HostPort) {
        let changed = state.withLock { s -> Bool in
            guard s.lastAddress != address else {
                s.master = address
                return false
            }
            s.master = address
            s.lastAddress = address
            currentGeneration.add(1, ordering: .acquiringAndReleasing)
            return true
        }
        if changed {
            logger.notice("Sentinel switched the master", metadata: ["master": "\(masterName)", "address": "\(address)"])
        }
    }

    /// Asks each sentinel in turn; the first that names the master moves to the front.
    private func ask(_ configuration: RedisConfiguration) throws -> (RedisURL.HostPort, RedisURL.HostPort) {
        var said: [String] = []
        var refusedLogin: RedisError?
        for node in nodes {
            do {
                let context = try RedisContext.connect(probeConfiguration(configuration, node))
                // The same round trip asks who the other sentinels are (the spec's optional
                // refresh): a client told of one sentinel still finds the master when that
                // one is down later.
                let replies = try context.send([
                    RedisCommand("SENTINEL", "get-master-addr-by-name", masterName), RedisCommand("SENTINEL", "sentinels", masterName),
                ])
                learn(Self.peers(in: replies[1]))
                let reply = replies[0]
                if case .error(let message) = reply {
                    said.append("\(node): \(message)")
                    continue
                }
                guard let pair = reply.array, pair.count == 2, let host = pair[0].string,
                      let port = pair[1].string.flatMap({ Int($0) })
                else {
                    said.append("\(node): knows no master named '\(masterName)'")
                    continue
                }
                state.withLock { s in
                    if let i = s.nodes.firstIndex(of: node), i > 0 { s.nodes.insert(s.nodes.remove(at: i), at: 0) }
                }
                return (RedisURL.HostPort(host: host, port: port), node)
            } catch let error as RedisError {
                if error.code == .authentication { refusedLogin = error }
                said.append("\(node): \(error.detail)")
            }
        }
        // Every sentinel refused the login: that is the error to fix, not "no master".
        if let refusedLogin, said.count == nodes.count, said.allSatisfy({ $0.contains("refused") }) { throw refusedLogin }
        throw RedisError(
            .connectionRefused,
            detail: "no sentinel named a master for '\(masterName)' (\(said.joined(separator: "; ")))")
    }

    /// Adds sentinels a sentinel named that the list lacks, at its end; none is ever removed
    /// (a sentinel that is down now may be the one that answers later).
    private func learn(_ peers: [RedisURL.HostPort]) {
        let added = state.withLock { s -> [RedisURL.HostPort] in
            let new = peers.filter { !s.nodes.contains($0) }
            s.nodes += new
            return new
        }
        for p in added { logger.info("learned of another sentinel", metadata: ["master": "\(masterName)", "sentinel": "\(p)"]) }
    }

    /// The addresses in a `SENTINEL sentinels` reply (a list of field/value lists); nothing
    /// for an error (an ACL without the command) or a reply of another shape.
    static func peers(in reply: RedisReply) -> [RedisURL.HostPort] {
        (reply.array ?? []).compactMap { entry in
            let fields = entry.array?.compactMap(\.string) ?? []
            var values: [String: String] = [:]
            for i in stride(from: 0, to: fields.count - 1, by: 2) { values[fields[i]] = fields[i + 1] }
            guard let ip = values["ip"], !ip.isEmpty, let port = values["port"].flatMap({ Int($0) }) else { return nil }
            return RedisURL.HostPort(host: ip, port: port)
        }
    }

    /// A sentinel connection: short timeouts, as another sentinel can be asked instead.
    func probeConfiguration(_ configuration: RedisConfiguration, _ node: RedisURL.HostPort) -> RedisConfiguration {
        var probe = configuration
        probe.url = url.sentinelNode(node)
        probe.connectTimeout = min(configuration.connectTimeout, .milliseconds(500))
        probe.commandTimeout = min(configuration.commandTimeout, .seconds(1))
        return probe
    }

    private func startWatching(_ configuration: RedisConfiguration) {
        let start = state.withLock { s -> Bool in
            defer { s.watching = true }
            return !s.watching
        }
        if start { SentinelWatcher.start(for: self, configuration: configuration) }
    }
}
