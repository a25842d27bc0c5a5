/// How Kale connects to Redis.
public struct RedisConfiguration: Sendable {
    /// The server and credentials.
    public var url: RedisURL
    /// Longest wait for the TCP or unix connect. Default 2 s.
    public var connectTimeout: Duration
    /// Longest wait for a reply to an ordinary command (socket read/write timeout). Default 5 s.
    /// Blocking commands wait for their own server timeout plus this margin.
    public var commandTimeout: Duration
    /// Enables TCP keepalive so a dead peer is noticed on an idle connection. Default true.
    public var keepAlive: Bool
    /// Sent with `CLIENT SETNAME` so `CLIENT LIST` shows who is connected. Default `kale`.
    public var clientName: String?
    /// Connections in a ``RedisClient``'s pool. Default 4.
    public var poolSize: Int
    /// First delay before reconnecting after a failure; doubles per failure, with jitter. Default 50 ms.
    public var reconnectBaseDelay: Duration
    /// Upper bound of the reconnect delay. Default 2 s.
    public var reconnectMaxDelay: Duration
    /// How long a caller that is its client's only request in flight waits for the reply on
    /// its own thread (yielding the core) before it suspends. Default zero: never.
    ///
    /// Resuming a suspended caller wakes a sleeping pool thread, which on a VM is slow: with
    /// 150 µs, one-at-a-time enqueues ran about twice as fast on the project's 2-vCPU machine
    /// (docs/performance.md). The cost is CPU, and a pool thread that does nothing else
    /// meanwhile: on a loaded 2-core machine it delayed other async work (scheduled tasks
    /// started up to 130 ms late under the parallel test suite). Turn it on for producers
    /// that enqueue one at a time on an otherwise quiet process; the worker leaves it off, as
    /// its children need the cores.
    public var replySpin: Duration

    public init(
        url: RedisURL,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(5),
        keepAlive: Bool = true,
        clientName: String? = "kale",
        poolSize: Int = 4,
        reconnectBaseDelay: Duration = .milliseconds(50),
        reconnectMaxDelay: Duration = .seconds(2),
        replySpin: Duration = .zero
    ) {
        precondition(poolSize > 0, "a Redis pool needs at least one connection")
        self.url = url
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.keepAlive = keepAlive
        self.clientName = clientName
        self.poolSize = poolSize
        self.reconnectBaseDelay = reconnectBaseDelay
        self.reconnectMaxDelay = reconnectMaxDelay
        self.replySpin = replySpin
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }

    /// The duration in whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        let c = components
        return c.seconds * 1000 + c.attoseconds / 1_000_000_000_000_000
    }
}
