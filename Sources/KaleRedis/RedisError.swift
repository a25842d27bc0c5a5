/// A failure talking to Redis.
///
/// Server error replies (`-ERR …`) surface as code ``Code/server`` with the server's text in
/// ``detail``; everything else means the connection could not do its job. No password ever
/// appears in an error: messages are built from ``RedisURL/description``.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure; new codes may be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Value: String, Sendable {
            case invalidURL = "invalid URL"
            case connectionRefused = "connection refused"
            case timeout
            case authentication = "authentication failed"
            case io = "I/O error"
            case eof = "connection closed"
            case protocolError = "protocol error"
            case server = "server error"
            case noScript = "script not loaded"
            case permission = "permission denied"
            case unexpectedReply = "unexpected reply"
            case closed = "client closed"
            case notMaster = "not the master"
        }
        fileprivate let value: Value
        fileprivate init(_ value: Value) { self.value = value }

        /// The URL could not be parsed, or names something this build cannot do (TLS).
        public static let invalidURL = Code(.invalidURL)
        /// Nothing listens at the address, or the host cannot be resolved.
        public static let connectionRefused = Code(.connectionRefused)
        /// Connecting, reading or writing took longer than its timeout.
        public static let timeout = Code(.timeout)
        /// AUTH was rejected (wrong password, unknown user) or was required and missing.
        public static let authentication = Code(.authentication)
        /// The socket failed; the connection is discarded and remade on the next call.
        public static let io = Code(.io)
        /// The server closed the connection.
        public static let eof = Code(.eof)
        /// The server sent something that is not RESP2.
        public static let protocolError = Code(.protocolError)
        /// The server answered with an error reply; ``RedisError/detail`` holds its text.
        public static let server = Code(.server)
        /// EVALSHA named a script the server does not hold (handled internally by reloading).
        public static let noScript = Code(.noScript)
        /// The server's ACL refused a command, key or channel; ``RedisError/detail`` names the
        /// Redis user and the rule it lacks (see `RedisError(serverReply:to:user:context:)`).
        public static let permission = Code(.permission)
        /// The reply had a type the caller did not expect.
        public static let unexpectedReply = Code(.unexpectedReply)
        /// The client was shut down.
        public static let closed = Code(.closed)
        /// The server a Sentinel named answered ROLE as a replica (a failover under way); the
        /// connection is dropped and the sentinels are asked again.
        public static let notMaster = Code(.notMaster)

        public var description: String { value.rawValue }
    }

    public var code: Code
    /// Human-readable context: the server's error text, the address, the errno message.
    public var detail: String

    public init(_ code: Code, detail: String) {
        self.code = code
        self.detail = detail
    }

    /// True when the connection itself broke (as opposed to the server saying no): the
    /// command may or may not have run, and the next call reconnects.
    public var isConnectionFailure: Bool {
        [.connectionRefused, .timeout, .io, .eof, .protocolError, .notMaster].contains(code)
    }

    /// The error code a server reply starts with (`BUSY`, `OOM`, `NOSCRIPT`, …), or nil when
    /// this is not a server reply.
    public var serverCode: Substring? {
        guard code == .server else { return nil }
        return detail.prefix { $0 != " " }
    }

    /// Server replies that mean "not now" rather than "no": the server is loading, running a
    /// script, out of memory, a replica, without its master, or a cluster mid-reshard. The
    /// same command may succeed later, so a state transition is retried, never dropped.
    public static let transientServerCodes: Set<Substring> = [
        "LOADING", "BUSY", "OOM", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "UNBLOCKED",
    ]

    /// True when the same command may succeed if sent again later: the connection failed, or
    /// the server answered with one of ``transientServerCodes``.
    public var isTransient: Bool {
        if isConnectionFailure { return true }
        guard let c = serverCode else { return false }
        return Self.transientServerCodes.contains(c)
    }

    public var description: String { "Redis \(code): \(detail)" }
}
