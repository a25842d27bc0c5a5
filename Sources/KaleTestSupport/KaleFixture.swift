public import Kale
public import KaleRedis

/// A Kale setup of its own for one test: a unique key prefix on the shared test server.
public struct KaleFixture: Sendable {
    public let configuration: KaleConfiguration
    public let client: KaleClient
    public let server: RedisServer

    /// - Parameters:
    ///   - server: defaults to the process's shared server.
    ///   - redis: connects so instead of to `server` directly (a Sentinel URL of its deployment).
    ///   - tweak: adjusts the configuration (limits, TTLs) before the client is made.
    public init(_ function: String = #function, server: RedisServer = .shared, redis: RedisConfiguration? = nil, poolSize: Int = 4,
                tweak: (inout KaleConfiguration) -> Void = { _ in }) {
        let namespace = testNamespace(function)
        var redis = redis ?? server.configuration(poolSize: poolSize)
        redis.clientName = namespace
        var configuration = KaleConfiguration(redis: redis, keys: Keys(prefix: namespace))
        tweak(&configuration)
        self.configuration = configuration
        self.server = server
        client = KaleClient(configuration: configuration)
    }

    public var keys: Keys { configuration.keys }
    public var redis: RedisClient { client.redis }

    /// Run counts per task id from a counter hash (of `kale.count` or a test's counting task).
    public func runCounts(_ counter: String) async throws -> [String: Int] {
        (try await redis.send("HGETALL", counter).hash ?? [:]).compactMapValues { Int($0) }
    }

    /// Checks that every task is in exactly the one place its state says, and returns the
    /// problems found (empty when nothing was lost or duplicated).
    public func auditQueue(_ queue: String, ids: [String]) async throws -> [String] {
        var problems: [String] = []
        var pending: [String: Int] = [:]
        for list in keys.pendingLists(queue) {
            for id in try await redis.send("LRANGE", list, 0, -1).strings ?? [] { pending[id, default: 0] += 1 }
        }
        func members(_ key: String) async throws -> Set<String> {
            Set(try await redis.send("ZRANGE", key, 0, -1).strings ?? [])
        }
        let scheduled = try await members(keys.scheduled(queue))
        let active = try await members(keys.active(queue))
        let dead = try await members(keys.dead(queue))
        for (id, n) in pending where n > 1 { problems.append("\(id) is \(n) times in the pending lists") }
        for id in ids {
            guard let info = try await client.status(of: id, queue: queue) else {
                problems.append("\(id) has no record: lost")
                continue
            }
            let places = [pending[id] != nil ? "pending" : nil, scheduled.contains(id) ? "scheduled" : nil,
                          active.contains(id) ? "active" : nil, dead.contains(id) ? "dead" : nil].compactMap { $0 }
            let expected: [String]
            switch info.state {
            case .pending: expected = ["pending"]
            case .scheduled, .retrying: expected = ["scheduled"]
            case .started: expected = ["active"]
            case .dead: expected = ["dead"]
            case .succeeded, .failed, .cancelled, .expired: expected = []
            }
            if places != expected { problems.append("\(id) is \(info.state.rawValue) but in \(places)") }
        }
        return problems
    }
}
