public import Logging
import Synchronization

/// A pool of Redis connections for async code.
///
/// Each connection runs on its own OS thread (see ``RedisConfiguration/poolSize``); a call
/// goes to the least busy one, where it is pipelined with whatever else is waiting. Blocking
/// commands (BLPOP …) belong on a ``dedicatedConnection(name:)`` so they never hold up others.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let connections: [ConnectionThread]
    /// For a `redis+cluster://` URL: routes each command to its slot's master, with
    /// ``RedisConfiguration/poolSize`` connections per node.
    private let router: ClusterRouter?
    private let logger: Logger
    /// Requests in flight from this client, so a lone one may wait for its reply in place.
    private let inFlight = Atomic(0)

    public init(configuration: RedisConfiguration, logger: Logger = Logger(label: "kale.redis")) {
        self.configuration = configuration
        self.logger = logger
        if let map = ClusterMap.shared(for: configuration.url) {
            router = ClusterRouter(configuration: configuration, map: map, connectionsPerNode: configuration.poolSize,
                                   name: "kale-redis", logger: logger)
            connections = []
        } else {
            router = nil
            connections = (0..<configuration.poolSize).map {
                ConnectionThread(configuration: configuration, name: "kale-redis-\($0)", logger: logger)
            }
        }
    }

    /// A client for `url` with default settings.
    public convenience init(url: RedisURL, poolSize: Int = 4) {
        self.init(configuration: RedisConfiguration(url: url, poolSize: poolSize))
    }

    deinit { close() }

    /// Sends one command and returns its reply.
    ///
    /// - Throws: ``RedisError``; a server error reply is thrown with code `.server`.
    @discardableResult
    public func send(_ command: RedisCommand) async throws -> RedisReply {
        try await execute([command])[0].throwingServerError(for: command, user: configuration.url.user)
    }

    /// Sends keyless `command` to every master: the one server, or each master of a cluster
    /// (whose `PING` or `INFO` otherwise reaches one node). Each node is named `host:port`;
    /// a node that could not be reached has its error instead of a reply.
    public func sendToEveryMaster(_ command: RedisCommand) async throws -> [(node: String, reply: Result<RedisReply, RedisError>)] {
        guard let router else {
            let reply: Result<RedisReply, RedisError>
            do { reply = .success(try await execute([command])[0]) } catch let error as RedisError { reply = .failure(error) }
            let node = switch configuration.url.endpoint {
            case .tcp(let host, let port): RedisURL.HostPort(host: host, port: port).description
            case .unix(let path): path
            case .sentinel(_, let master): "master \(master)"
            case .cluster: "cluster"
            }
            return [(node, reply)]
        }
        return try await router.onEveryMaster(command).map { ($0.node.description, $0.reply) }
    }

    private func execute(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        if let router { return try await router.execute(commands) }
        // Counted only when it can matter: with the default (no spin) every caller would
        // otherwise contend on one shared atomic for nothing.
        guard configuration.replySpin > .zero else { return try await pick().execute(commands) }
        let lone = inFlight.add(1, ordering: .relaxed).newValue == 1
        defer { inFlight.subtract(1, ordering: .relaxed) }
        return try await pick().execute(commands, spin: lone)
    }

    /// Sends one command built from its name and arguments.
    @discardableResult
    public func send(_ name: String, _ arguments: any RedisArgument...) async throws -> RedisReply {
        try await send(RedisCommand(name, arguments: arguments))
    }

    /// Sends commands as one pipeline on one connection; replies come back in order, with
    /// server errors as `.error` values.
    ///
    /// - Throws: ``RedisError`` when the connection fails.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        try await execute(commands)
    }

    /// Runs a script by SHA, loading it on NOSCRIPT.
    ///
    /// - Throws: ``RedisError``, including the script's own `error_reply`s as `.server`.
    @discardableResult
    public func run(_ script: RedisScript, keys: [String], arguments: [any RedisArgument]) async throws -> RedisReply {
        try await send(script.command(keys: keys, arguments: arguments))
    }

    /// A connection of its own, with its own thread, for blocking commands.
    /// On a cluster it holds one connection per node its commands go to.
    public func dedicatedConnection(name: String) -> DedicatedConnection {
        if let router {
            return DedicatedConnection(.cluster(ClusterRouter(configuration: configuration, map: router.map, connectionsPerNode: 1,
                                                              name: name, logger: logger)), user: configuration.url.user)
        }
        return DedicatedConnection(.single(ConnectionThread(configuration: configuration, name: name, logger: logger)),
                                   user: configuration.url.user)
    }

    /// Stops every connection thread once its queued requests are answered.
    public func close() {
        for c in connections { c.close() }
        router?.close()
    }

    private func pick() -> ConnectionThread {
        if connections.count == 1 { return connections[0] }
        // The least busy connection, ties going to the lowest index. Callers that await each
        // reply thus keep using one connection whose thread is still awake (see
        // ConnectionThread.spinBeforeParking); round-robin sent each call to a thread that had
        // parked, paying a wakeup per call. Under concurrency queues grow and spread the load.
        var best = connections[0]
        var bestLoad = best.load
        for connection in connections.dropFirst() where bestLoad > 0 {
            let load = connection.load
            if load < bestLoad {
                best = connection
                bestLoad = load
            }
        }
        return best
    }
}

/// One connection with its own thread, for commands that block on the server.
public final class DedicatedConnection: Sendable {
    enum Route: Sendable {
        case single(ConnectionThread)
        case cluster(ClusterRouter)
    }

    private let route: Route
    private let user: String?

    init(_ route: Route, user: String?) {
        self.route = route
        self.user = user
    }

    deinit { close() }

    /// Sends one command; server errors are thrown.
    @discardableResult
    public func send(_ command: RedisCommand) async throws -> RedisReply {
        try await pipeline([command])[0].throwingServerError(for: command, user: user)
    }

    /// Sends commands as one pipeline; server errors come back as `.error` values.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        switch route {
        case .single(let thread): return try await thread.execute(commands)
        case .cluster(let router): return try await router.execute(commands)
        }
    }

    public func close() {
        switch route {
        case .single(let thread): thread.close()
        case .cluster(let router): router.close()
        }
    }
}
