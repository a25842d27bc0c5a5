import Foundation
public import KaleRedis

/// A real Sentinel deployment on loopback: a master, its replicas and three sentinels, each
/// its own process on a free port, all killed at exit like any ``RedisServer``.
///
/// The sentinels decide quickly (`down-after-milliseconds` 1000 by default) so a failover
/// test takes seconds. ``init(replicas:sentinels:downAfter:)`` returns once every sentinel
/// knows the others and the replicas, and every replica is in sync: before that a kill of the
/// master would find nobody to agree on a failover.
public final class SentinelDeployment: Sendable {
    public static let masterName = "kale-master"

    /// Redis servers in start order; the first began as the master.
    public let servers: [RedisServer]
    public let sentinels: [RedisServer]

    public init(replicas: Int = 1, sentinels count: Int = 3, downAfter: Duration = .milliseconds(1000)) throws {
        // Any of them may become the master: none waits 5 s before a full sync (the default).
        let quick = ["--repl-diskless-sync-delay", "0"]
        let master = try RedisServer(options: quick)
        var servers = [master]
        for _ in 0..<replicas {
            servers.append(try RedisServer(options: quick + ["--replicaof", "127.0.0.1", "\(master.port)"]))
        }
        self.servers = servers
        let quorum = count / 2 + 1
        let config = """
            sentinel monitor \(Self.masterName) 127.0.0.1 \(master.port) \(quorum)
            sentinel down-after-milliseconds \(Self.masterName) \(downAfter.milliseconds)
            sentinel failover-timeout \(Self.masterName) 4000
            sentinel parallel-syncs \(Self.masterName) 1

            """
        sentinels = try (0..<count).map { _ in try RedisServer.sentinel(configuration: config) }
        try waitUntilSettled(replicas: replicas)
    }

    /// `redis+sentinel://` naming every sentinel, as clients are given it.
    public var url: RedisURL {
        RedisURL(endpoint: .sentinel(nodes: sentinels.map { .init(host: "127.0.0.1", port: $0.port) }, master: Self.masterName))
    }

    /// A client configuration through the sentinels, with the tests' quick reconnects.
    public func configuration(poolSize: Int = 4) -> RedisConfiguration {
        RedisConfiguration(url: url, connectTimeout: .seconds(1), commandTimeout: .seconds(5), poolSize: poolSize,
                           reconnectBaseDelay: .milliseconds(20), reconnectMaxDelay: .milliseconds(500))
    }

    /// The server the sentinels name as master now (asked of the first that answers).
    public func currentMaster() throws -> RedisServer {
        for sentinel in sentinels {
            guard let reply = try? ask(sentinel, "SENTINEL", "get-master-addr-by-name", Self.masterName),
                  let port = reply.array?.last?.string.flatMap({ Int($0) })
            else { continue }
            if let server = servers.first(where: { $0.port == port }) { return server }
        }
        throw RedisError(.connectionRefused, detail: "no sentinel names a master")
    }

    /// Waits until the sentinels name a master other than `old` and that server says it is one.
    public func waitForFailover(from old: RedisServer, timeout: Duration = .seconds(30)) throws -> RedisServer {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let now = try? currentMaster(), now.port != old.port,
               (try? ask(now, "ROLE"))?.array?.first?.string == "master" {
                return now
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw RedisError(.timeout, detail: "no failover from port \(old.port) within \(timeout)")
    }

    /// Waits until every sentinel sees the others and `replicas` replicas, and the replicas'
    /// links to the master are up.
    public func waitUntilSettled(replicas: Int, timeout: Duration = .seconds(30)) throws {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            do {
                if try settled(replicas: replicas, &last) { return }
            } catch {
                last = "\(error)"
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw RedisError(.timeout, detail: "the Sentinel deployment did not settle within \(timeout): \(last)")
    }

    private func settled(replicas: Int, _ last: inout String) throws -> Bool {
        let master = try currentMaster()
        for sentinel in sentinels {
            let peers = try ask(sentinel, "SENTINEL", "sentinels", Self.masterName).array?.count ?? 0
            let known = try ask(sentinel, "SENTINEL", "replicas", Self.masterName).array ?? []
            let healthy = known.filter { entry in
                let fields = entry.array?.compactMap(\.string) ?? []
                guard let i = fields.firstIndex(of: "flags"), i + 1 < fields.count else { return false }
                return fields[i + 1] == "slave"
            }
            guard peers == sentinels.count - 1, healthy.count >= replicas else {
                last = "sentinel \(sentinel.port) sees \(peers) peers and \(healthy.count) healthy replicas"
                return false
            }
        }
        let info = try ask(master, "INFO", "replication").string ?? ""
        let online = info.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("slave") && $0.contains("state=online") }.count
        last = "master \(master.port) has \(online) replicas online"
        guard online >= replicas else { return false }
        // Online is not enough: until its first acknowledgement a replica counts for no WAIT.
        let connection = RedisConnection(configuration: RedisConfiguration(url: master.url, clientName: "kale-test"))
        let replies = try connection.execute([RedisCommand("SET", "kale-test-sync", "1"), RedisCommand("WAIT", replicas, 200)])
        last = "master \(master.port): \(replies.last?.int ?? 0) of \(replicas) replicas acknowledge writes"
        return (replies.last?.int ?? 0) >= replicas
    }

    /// One command on a fresh connection to `server` (a sentinel or a data node).
    public func ask(_ server: RedisServer, _ arguments: String...) throws -> RedisReply {
        let connection = RedisConnection(configuration: RedisConfiguration(
            url: server.url, connectTimeout: .milliseconds(300), commandTimeout: .seconds(2), clientName: "kale-test"))
        return try connection.send(RedisCommand(arguments[0], arguments: Array(arguments.dropFirst())))
    }
}
