/// How a dashboard serves: where it listens, who may look and who may act.
public struct DashboardSettings: Sendable {
    /// The address to listen on. Default `127.0.0.1`.
    public var bind: String
    /// The TCP port. Default 8080.
    public var port: Int
    /// Refuse every action (403) and render no action buttons. Default false.
    public var readOnly: Bool
    /// The secret that actions, and on an exposed bind every page, require; nil for none
    /// (then the dashboard only shows, and only on a loopback bind).
    public var token: String?
    /// Every page needs the token even on a loopback bind: for a dashboard behind a reverse
    /// proxy on the same machine, whose requests all come from loopback. Default false.
    public var requireToken: Bool
    /// How long a connection may sit idle (no request, or a request's head or body stalled)
    /// before the server closes it: a client that opens connections and sends nothing, or a
    /// byte at a time, would otherwise hold them forever. Responses being written (a live
    /// stream) are not idle. Default 30 s.
    public var idleTimeout: Duration = .seconds(30)
    /// The Redis server's address as shown on pages, password redacted.
    public var redisDescription: String

    public init(bind: String = "127.0.0.1", port: Int = 8080, readOnly: Bool = false, token: String? = nil,
                requireToken: Bool = false, redisDescription: String = "") {
        self.bind = bind
        self.port = port
        self.readOnly = readOnly
        self.token = token
        self.requireToken = requireToken
        self.redisDescription = redisDescription
    }

    /// The binds that only this machine can reach. Anything else, 127.0.0.2 included, counts as
    /// exposed: a name or address that merely looks local is not worth the risk of guessing.
    public static let loopbackBinds: Set<String> = ["127.0.0.1", "::1", "localhost"]

    /// True on a loopback bind, where pages are readable without the token (unless ``requireToken``).
    public var isLoopback: Bool { Self.loopbackBinds.contains(bind) }

    /// Whether actions can be allowed at all: a token is set and the dashboard is not read-only.
    public var actionsEnabled: Bool { !readOnly && token != nil }
}
