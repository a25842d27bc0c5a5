import Logging
import Synchronization

/// Sends commands to a Redis Cluster: each to the master of its key's slot, following the
/// Cluster spec's redirections.
///
/// A pipeline is cut into units that must stay together (a keyed command with the keyless
/// ones that follow it, such as its `WAIT`; a whole `MULTI`…`EXEC`), the units are sent to
/// their nodes concurrently, one pipeline per node, and the replies are put back in the
/// order of the commands. A unit answered with a redirection is sent again by itself; every
/// redirection is given before the command runs, so nothing runs twice:
/// - `MOVED`: the slot has a new master; the map learns it and the unit goes there.
/// - `ASK`: the slot is being migrated and the key is already on the target; the unit goes
///   there once, behind `ASKING`, and the map is left alone. A transaction is not followed
///   there (its other keys may still be on the source): it waits and is sent again.
/// - `TRYAGAIN` (a multi-key command during a migration) and `CLUSTERDOWN` (a failover under
///   way): back off, send again.
/// - A node that refuses the connection (nothing was sent) may be a dead master whose
///   replica is being promoted: the map is asked again and the unit is resent, within
///   ``retryBudget``. A connection lost mid-request reaches the caller, as on one server:
///   the command may have run.
final class ClusterRouter: Sendable {
    let configuration: RedisConfiguration
    let map: ClusterMap
    private let pools = Mutex<[RedisURL.HostPort: [ConnectionThread]]>([:])
    private let connectionsPerNode: Int
    private let name: String
    private let logger: Logger
    /// How long redirections, `TRYAGAIN`, `CLUSTERDOWN` and refused connections are retried
    /// before their last answer reaches the caller: longer than a failover with the default
    /// `cluster-node-timeout` takes to elect a replica in a test deployment, bounded so a
    /// cluster that stays down surfaces as an error.
    static let retryBudget: Duration = .seconds(10)
    static let maxRedirects = 16

    init(configuration: RedisConfiguration, map: ClusterMap, connectionsPerNode: Int, name: String, logger: Logger) {
        self.configuration = configuration
        self.map = map
        self.connectionsPerNode = max(1, connectionsPerNode)
        self.name = name
        self.logger = logger
    }

    /// Commands that travel together to one node.
    struct Unit: Equatable {
        var range: Range<Int>
        var slot: Int?
        var isTransaction: Bool
    }

    /// Cuts `commands` into units: keyless commands join the keyed command before them (a
    /// `WAIT` counts the replicas of the write it follows), or the first unit when they lead.
    static func units(_ commands: [RedisCommand]) -> [Unit] {
        var units: [Unit] = []
        var i = 0
        while i < commands.count {
            let upper = commands[i].name.uppercased()
            if upper == "MULTI" {
                var end = i + 1
                while end < commands.count, !["EXEC", "DISCARD"].contains(commands[end].name.uppercased()) { end += 1 }
                end = min(end + 1, commands.count)
                let slot = commands[i..<end].lazy.compactMap { ClusterSlot.of($0) }.first
                units.append(Unit(range: (units.isEmpty ? 0 : i)..<end, slot: slot, isTransaction: true))
                i = end
            } else if let slot = ClusterSlot.of(commands[i]) {
                units.append(Unit(range: (units.isEmpty ? 0 : i)..<(i + 1), slot: slot, isTransaction: false))
                i += 1
            } else {
                if !units.isEmpty { units[units.count - 1].range = units[units.count - 1].range.lowerBound..<(i + 1) }
                i += 1
            }
        }
        if units.isEmpty, !commands.isEmpty { units.append(Unit(range: 0..<commands.count, slot: nil, isTransaction: false)) }
        return units
    }

    private enum Target: Equatable {
        case owner
        case node(RedisURL.HostPort, asking: Bool)
    }

    func execute(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        if commands.isEmpty { return [] }
        let commands = commands.map(ClusterSlotGuard.guarded)
        var replies = [RedisReply](repeating: .null, count: commands.count)
        var pending = Self.units(commands).map { ($0, Target.owner) }
        let deadline = ContinuousClock.now + Self.retryBudget
        // Redirected rounds in a row, bounded against nodes that send a unit in circles; a
        // round that waits ends the row, so waiting (an ASK answered by TRYAGAIN, again and
        // again through a slot's migration) is bounded by the deadline alone.
        var round = 0, redirects = 0
        while !pending.isEmpty {
            round += 1
            var again: [(Unit, Target)] = []
            var pause = false, redirected = false
            for (unit, target, outcome) in try await send(pending, commands) {
                switch outcome {
                case .replies(let got):
                    for (offset, reply) in got.enumerated() { replies[unit.range.lowerBound + offset] = reply }
                    guard ContinuousClock.now < deadline, let redirect = Self.redirection(in: got) else { continue }
                    switch redirect {
                    case .moved(let slot, let node):
                        guard redirects < Self.maxRedirects else { continue }
                        redirected = true
                        map.moved(slot, to: node)
                        again.append((unit, .node(node, asking: false)))
                    case .ask(_, let node) where !unit.isTransaction:
                        guard redirects < Self.maxRedirects else { continue }
                        redirected = true
                        again.append((unit, .node(node, asking: true)))
                    case .ask, .retryLater:
                        pause = true
                        again.append((unit, target))
                    }
                case .refused(let error):
                    // Nothing was sent: ask where the slot is now and send again.
                    map.markStale()
                    guard ContinuousClock.now < deadline else { throw error }
                    pause = true
                    again.append((unit, .owner))
                }
            }
            redirects = pause ? 0 : redirects + (redirected ? 1 : 0)
            if pause { try await Task.sleep(for: Self.backoff(round)) }
            pending = again.map { unit, target in
                // After a pause the map may know better than an ASK's target of a round ago.
                if case .node(_, asking: true) = target, pause { return (unit, .owner) }
                return (unit, target)
            }
        }
        return replies
    }

    static func backoff(_ round: Int) -> Duration {
        .milliseconds(min(10 << min(round, 5), 250))
    }

    private enum Outcome: Sendable {
        case replies([RedisReply])
        case refused(RedisError)
    }

    /// Sends every unit to its node, the units of one node as one pipeline, all nodes at once.
    private func send(_ units: [(Unit, Target)], _ commands: [RedisCommand]) async throws -> [(Unit, Target, Outcome)] {
        var byNode: [RedisURL.HostPort: [(Unit, Target)]] = [:]
        var order: [RedisURL.HostPort] = []
        for (unit, target) in units {
            let node: RedisURL.HostPort
            switch target {
            case .node(let n, _): node = n
            case .owner: node = try unit.slot.map { try map.owner(of: $0, configuration) } ?? map.anyNode(configuration)
            }
            if byNode[node] == nil { order.append(node) }
            byNode[node, default: []].append((unit, target))
        }
        if order.count == 1 { return try await sendTo(order[0], byNode[order[0]]!, commands) }
        return try await withThrowingTaskGroup(of: [(Unit, Target, Outcome)].self) { group in
            for node in order {
                let work = byNode[node]!
                group.addTask { try await self.sendTo(node, work, commands) }
            }
            var all: [(Unit, Target, Outcome)] = []
            for try await part in group { all += part }
            return all
        }
    }

    private func sendTo(_ node: RedisURL.HostPort, _ units: [(Unit, Target)], _ commands: [RedisCommand]) async throws -> [(Unit, Target, Outcome)] {
        var batch: [RedisCommand] = []
        var asked: [Bool] = []
        for (unit, target) in units {
            let asking = target == .node(node, asking: true)
            for i in unit.range {
                if asking { batch.append(RedisCommand("ASKING")) }
                batch.append(commands[i])
                asked.append(asking)
            }
        }
        let got: [RedisReply]
        do {
            got = try await thread(for: node).execute(batch)
        } catch let error as RedisError where error.code == .connectionRefused {
            return units.map { ($0.0, $0.1, .refused(error)) }
        } catch let error as RedisError where error.isConnectionFailure {
            map.markStale()
            throw error
        }
        var replies = got[...]
        return units.map { unit, target in
            var mine: [RedisReply] = []
            for _ in unit.range {
                if target == .node(node, asking: true) { replies = replies.dropFirst() }
                mine.append(replies.popFirst() ?? .null)
            }
            return (unit, target, .replies(mine))
        }
    }

    enum Redirection: Equatable {
        case moved(slot: Int, node: RedisURL.HostPort)
        case ask(slot: Int, node: RedisURL.HostPort)
        case retryLater
    }

    /// The error codes by which a cluster says "not here" or "not now" before running a command.
    static let redirectionCodes: Set<Substring> = ["MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN"]

    /// The first redirection among a unit's replies.
    static func redirection(in replies: [RedisReply]) -> Redirection? {
        for reply in replies {
            guard case .error(let message) = reply else { continue }
            if message.hasPrefix("TRYAGAIN") || message.hasPrefix("CLUSTERDOWN") { return .retryLater }
            let parts = message.split(separator: " ")
            guard parts.count == 3, parts[0] == "MOVED" || parts[0] == "ASK", let slot = Int(parts[1]),
                  let colon = parts[2].lastIndex(of: ":"), let port = Int(parts[2][parts[2].index(after: colon)...]) else { continue }
            var host = String(parts[2][..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            let node = RedisURL.HostPort(host: host, port: port)
            return parts[0] == "MOVED" ? .moved(slot: slot, node: node) : .ask(slot: slot, node: node)
        }
        return nil
    }

    /// `command` (keyless: `PING`, `INFO`) sent to every master at once; each node's reply in
    /// slot order, or the error that kept it from answering.
    func onEveryMaster(_ command: RedisCommand) async throws -> [(node: RedisURL.HostPort, reply: Result<RedisReply, RedisError>)] {
        let masters = try map.masters(configuration)
        return try await withThrowingTaskGroup(of: (Int, Result<RedisReply, RedisError>).self) { group in
            for (i, node) in masters.enumerated() {
                group.addTask {
                    do { return (i, .success(try await self.thread(for: node).execute([command])[0])) }
                    catch let error as RedisError { return (i, .failure(error)) }
                }
            }
            var replies = [Result<RedisReply, RedisError>?](repeating: nil, count: masters.count)
            for try await (i, reply) in group { replies[i] = reply }
            return zip(masters, replies).map { ($0, $1!) }
        }
    }

    /// The least busy connection to `node`, made on first use.
    private func thread(for node: RedisURL.HostPort) -> ConnectionThread {
        pools.withLock { pools in
            var pool = pools[node] ?? []
            if let idle = pool.first(where: { $0.load == 0 }) { return idle }
            if pool.count < connectionsPerNode {
                var direct = configuration
                direct.url = configuration.url.clusterNode(node)
                let made = ConnectionThread(configuration: direct, name: "\(name)-\(node.port)-\(pool.count)", logger: logger)
                pool.append(made)
                pools[node] = pool
                return made
            }
            return pool.min(by: { $0.load < $1.load })!
        }
    }

    func close() {
        let all = pools.withLock { p in
            defer { p = [:] }
            return p.values.flatMap { $0 }
        }
        for thread in all { thread.close() }
    }
}
