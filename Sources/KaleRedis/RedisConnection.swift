import Foundation
public import Logging

/// A blocking connection that reconnects by itself.
///
/// Not thread-safe: one thread owns it (a ``RedisClient`` gives each connection its own OS
/// thread). After any connection failure the hiredis context is dropped; the next call
/// connects anew, waiting an exponential backoff with jitter first when the previous attempt
/// also failed, so a caller that loops during an outage is throttled rather than spinning.
public final class RedisConnection {
    public let configuration: RedisConfiguration
    private var context: RedisContext?
    private var consecutiveFailures = 0
    private var notBefore: ContinuousClock.Instant?
    private let logger: Logger
    /// For a Sentinel URL: where the master is, and the resolver generation `context` was
    /// made under (a newer one means the master moved).
    private let sentinel: SentinelResolver?
    private var generation: UInt64 = 0

    public init(configuration: RedisConfiguration, logger: Logger = Logger(label: "kale.redis")) {
        self.configuration = configuration
        self.logger = logger
        sentinel = SentinelResolver.shared(for: configuration.url)
    }

    /// Whether a live context is held right now (it may still turn out to be broken).
    public var isConnected: Bool { context != nil }

    /// True when the master of a Sentinel URL moved since this connection was made: a
    /// connection that holds its context itself (pub/sub) should make a new one.
    var followsOldMaster: Bool {
        guard let sentinel, context != nil || generation != 0 else { return false }
        return sentinel.generation != generation
    }

    /// Sends one command and returns its reply; server errors are thrown.
    ///
    /// - Throws: ``RedisError``.
    @discardableResult
    public func send(_ command: RedisCommand) throws -> RedisReply {
        try execute([command])[0].throwingServerError(for: command, user: configuration.url.user)
    }

    /// Sends commands as one pipeline and returns one reply each, in order.
    ///
    /// Server error replies are returned as `.error` values. EVALSHA commands answered with
    /// NOSCRIPT are loaded and sent again before returning.
    ///
    /// - Throws: ``RedisError`` when the connection fails; the context is then discarded.
    public func execute(_ commands: [RedisCommand]) throws -> [RedisReply] {
        if commands.isEmpty { return [] }
        var replies = try attempt(commands)
        guard sentinel != nil, let demoted = replies.firstIndex(where: Self.isDemotion) else { return replies }
        // The server was a master when we connected and is a replica now: a failover demoted
        // it. The next call goes to the master the sentinels name now.
        logger.info("the Redis master was demoted; asking the sentinels", metadata: ["redis.url": "\(configuration.url)"])
        forgetMaster()
        // Sent again at once only when nothing before the refusal can have written: a replica
        // refuses every write and a blocked pop it released took nothing, but a write answered
        // before the demotion (a script, then its WAIT released) ran, and must not run twice.
        // Otherwise the refusal reaches the caller as a transient error, to retry as it sees fit.
        guard Self.resendable(commands, demotedAt: demoted) else { return replies }
        replies = try attempt(commands)
        if replies.contains(where: Self.isDemotion) { forgetMaster() }
        return replies
    }

    /// Commands that change nothing on the server, so running them twice is harmless.
    private static let readOnly: Set<String> = [
        "PING", "ROLE", "INFO", "TIME", "MULTI", "GET", "MGET", "EXISTS", "TYPE", "TTL", "PTTL", "HGET", "HMGET",
        "HGETALL", "HLEN", "HEXISTS", "LLEN", "LRANGE", "LINDEX", "SCARD", "SMEMBERS", "SISMEMBER", "ZCARD", "ZSCORE",
        "ZRANGE", "ZRANGEBYSCORE", "ZREVRANGE", "ZCOUNT", "XLEN", "XRANGE", "XREVRANGE", "SCAN", "HSCAN", "ZSCAN",
    ]

    /// Whether commands whose reply at `demotedAt` was the first READONLY or UNBLOCKED may be
    /// sent again: only when none before it can have written.
    static func resendable(_ commands: [RedisCommand], demotedAt: Int) -> Bool {
        commands[..<demotedAt].allSatisfy { readOnly.contains($0.name.uppercased()) }
    }

    private func attempt(_ commands: [RedisCommand]) throws -> [RedisReply] {
        let context = try connected()
        do {
            var replies = try context.send(commands)
            try reloadScripts(commands, &replies, context)
            return replies
        } catch let error as RedisError {
            drop(error)
            throw error
        }
    }

    /// `-READONLY` (a write sent to a replica) or `-UNBLOCKED` (a blocked pop released
    /// because its master became a replica).
    private static func isDemotion(_ reply: RedisReply) -> Bool {
        guard case .error(let message) = reply else { return false }
        return message.hasPrefix("READONLY") || message.hasPrefix("UNBLOCKED")
    }

    /// Drops the connection to a demoted master and makes the next connect ask the sentinels.
    private func forgetMaster() {
        context = nil
        sentinel?.invalidate(generation)
    }

    /// Closes the connection; the next call reconnects.
    public func close() { context = nil }

    /// A connected context, connecting (after the backoff delay, if one is due) when needed.
    func connected() throws -> RedisContext {
        if let context, let sentinel, sentinel.generation != generation {
            // A sentinel announced a new master (or another connection found this one gone):
            // nothing is pending on this connection, so move before sending.
            logger.info("following the Redis master to its new address", metadata: ["redis.url": "\(configuration.url)", "was": "\(context.endpoint)"])
            self.context = nil
        }
        if let context {
            if !context.isClosedByPeer { return context }
            // The server closed this connection while it was idle (restart, failover, CLIENT
            // KILL, its idle `timeout`). Nothing has been sent on it, so connecting anew is
            // safe, and spares the caller an EOF error for a server that is up again.
            logger.info("Redis closed an idle connection; reconnecting", metadata: ["redis.url": "\(configuration.url)"])
            self.context = nil
        }
        if let notBefore {
            let wait = notBefore - .now
            if wait > .zero { Thread.sleep(forTimeInterval: wait.seconds) }
        }
        do {
            let context = try open()
            if consecutiveFailures > 0 {
                logger.info("reconnected to Redis", metadata: ["redis.url": "\(configuration.url)", "attempts": "\(consecutiveFailures)"])
            }
            self.context = context
            consecutiveFailures = 0
            notBefore = nil
            return context
        } catch let error as RedisError {
            // Auth and URL errors will not heal by retrying fast; still back off so a loop
            // around us cannot hammer the server.
            scheduleRetry()
            throw error
        }
    }

    /// A new context: to the URL's server, or to the master its sentinels name, confirmed by `ROLE`.
    private func open() throws -> RedisContext {
        guard let sentinel else { return try RedisContext.connect(configuration) }
        let (address, generation) = try sentinel.master(configuration)
        var direct = configuration
        direct.url = configuration.url.master(at: address)
        do {
            let context = try RedisContext.connect(direct, requireMaster: true)
            self.generation = generation
            return context
        } catch let error as RedisError {
            // A master that is gone or demoted: the sentinels are asked again next time, the
            // one that named a replica last.
            if error.code == .notMaster { sentinel.distrustLastAnswer(generation) }
            else if error.isConnectionFailure { sentinel.invalidate(generation) }
            throw error
        }
    }

    /// Forgets a broken context and schedules the next attempt.
    func drop(_ error: RedisError) {
        guard error.isConnectionFailure else { return }
        // The master may have died: ask the sentinels before reconnecting.
        sentinel?.invalidate(generation)
        if context != nil {
            logger.warning("Redis connection lost", metadata: ["redis.url": "\(configuration.url)", "error": "\(error)"])
        }
        context = nil
        scheduleRetry()
    }

    private func scheduleRetry() {
        consecutiveFailures += 1
        let exponent = min(consecutiveFailures - 1, 16)
        let base = configuration.reconnectBaseDelay * (1 << exponent)
        let capped = min(base, configuration.reconnectMaxDelay)
        // Full jitter in [50%, 100%] spreads a fleet of workers reconnecting after a restart.
        notBefore = .now + capped * Double.random(in: 0.5...1.0)
        // The first retry after a healthy period happens at once: most drops are one-offs.
        if consecutiveFailures == 1 { notBefore = nil }
    }

    private func reloadScripts(_ commands: [RedisCommand], _ replies: inout [RedisReply], _ context: RedisContext) throws {
        var retry: [Int] = []
        for (i, reply) in replies.enumerated() {
            if case .error(let message) = reply, message.hasPrefix("NOSCRIPT"), commands[i].script != nil {
                retry.append(i)
            }
        }
        guard !retry.isEmpty else { return }
        var loaded = Set<String>()
        var batch: [RedisCommand] = []
        for i in retry {
            let script = commands[i].script!
            if loaded.insert(script.sha1).inserted { batch.append(RedisCommand("SCRIPT", "LOAD", script.source)) }
        }
        let loadCount = batch.count
        for i in retry { batch.append(commands[i]) }
        // A WAIT that followed a refused script answered before the script ran: it counted
        // replicas for writes that had not happened. It is asked again after the scripts.
        let waits = commands.indices.filter { $0 > retry[0] && commands[$0].name.uppercased() == "WAIT" }
        for i in waits { batch.append(commands[i]) }
        let again = try context.send(batch)
        for (offset, reply) in again[..<loadCount].enumerated() {
            if case .error(let message) = reply {
                throw RedisError(serverReply: message, to: batch[offset], user: configuration.url.user, context: "SCRIPT LOAD failed (\(batch[offset].name))")
            }
        }
        for (n, i) in retry.enumerated() { replies[i] = again[loadCount + n] }
        for (n, i) in waits.enumerated() { replies[i] = again[loadCount + retry.count + n] }
    }
}
