import Foundation

/// Where a Redis server is and how to log in to it.
///
/// Accepts `redis://[user[:password]@]host[:port][/db]`, `unix:///path/to.sock[?db=N]`
/// (`password` and `user` may also be given as query items on a unix URL) and
/// `redis+sentinel://[user[:password]@]host:port[,host:port…]/MASTER[/db]` (see
/// ``Endpoint/sentinel(nodes:master:)``) and `redis+cluster://[user[:password]@]host:port[,host:port…]`
/// (see ``Endpoint/cluster(nodes:)``). `rediss://` is
/// refused: the hiredis 0.14 that Debian 12 ships has no TLS, so Kale would silently send
/// cleartext. Run a TLS tunnel (see `deploy/tls-tunnel.md`) and point Kale at its local end.
///
/// The password never appears in ``description``: it prints as `***`.
public struct RedisURL: Sendable, Hashable, CustomStringConvertible {
    /// How to reach the server.
    public enum Endpoint: Sendable, Hashable {
        case tcp(host: String, port: Int)
        case unix(path: String)
        /// The master that these Sentinels name `master`, asked in turn (docs/high-availability.md).
        /// The URL's credentials and database are the master's; the sentinels' own are
        /// ``RedisURL/sentinelUser`` and ``RedisURL/sentinelPassword``.
        case sentinel(nodes: [HostPort], master: String)
        /// A Redis Cluster, reached first through these seed nodes (docs/high-availability.md).
        case cluster(nodes: [HostPort])
    }

    /// One TCP address.
    public struct HostPort: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The environment variable that names the default server.
    public static let environmentKey = "KALE_REDIS_URL"
    /// Used when neither a flag nor `KALE_REDIS_URL` names a server.
    public static let fallback = "redis://127.0.0.1:6379"

    public var endpoint: Endpoint
    /// ACL user name; `nil` logs in as `default` (plain `AUTH password`).
    public var user: String?
    public var password: String?
    /// Logical database selected after connecting (0 by default).
    public var database: Int
    /// For a Sentinel URL: the ACL user the sentinels are asked as (query item `sentinel_user`).
    public var sentinelUser: String?
    /// For a Sentinel URL: the sentinels' password (query item `sentinel_password`), kept apart
    /// from the master's because a deployment usually gives them different ones.
    public var sentinelPassword: String?

    public init(endpoint: Endpoint, user: String? = nil, password: String? = nil, database: Int = 0,
                sentinelUser: String? = nil, sentinelPassword: String? = nil) {
        self.endpoint = endpoint
        self.user = user
        self.password = password
        self.database = database
        self.sentinelUser = sentinelUser
        self.sentinelPassword = sentinelPassword
    }

    /// Parses a URL string.
    ///
    /// - Throws: ``RedisError`` with code `.invalidURL` naming what is wrong.
    public init(parsing text: String) throws {
        func bad(_ detail: String) -> RedisError {
            RedisError(.invalidURL, detail: "\(detail) in Redis URL '\(RedisURL.redact(text))'")
        }
        guard let schemeEnd = text.range(of: "://") else {
            throw bad("missing scheme (expected redis://, redis+sentinel://, redis+cluster:// or unix://)")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        var rest = String(text[schemeEnd.upperBound...])
        // Credentials end at the last '@', split off before the path and query: a password may
        // hold '/', '?' or '@' unencoded, and cutting it there would both fail the parse and
        // echo a piece of the password in the error ("port 'hunter' is not a number").
        var credentials: Substring?
        if scheme.hasPrefix("redis"), let at = rest.lastIndex(of: "@") {
            credentials = Substring(rest[..<at])
            rest = String(rest[rest.index(after: at)...])
        }
        var query: [String: String] = [:]
        if let q = rest.firstIndex(of: "?") {
            for item in rest[rest.index(after: q)...].split(separator: "&") {
                let kv = item.split(separator: "=", maxSplits: 1).map { String($0) }
                query[kv[0]] = kv.count > 1 ? RedisURL.percentDecoded(kv[1]) : ""
            }
            rest = String(rest[..<q])
        }
        switch scheme {
        case "rediss":
            throw RedisError(
                .invalidURL,
                detail: "rediss:// (TLS) is not supported: Debian's hiredis 0.14 has no TLS. "
                    + "Run a TLS tunnel such as stunnel or spiped and use redis://127.0.0.1:PORT "
                    + "(see deploy/tls-tunnel.md)"
            )
        case "redis+cluster":
            try self.init(cluster: rest, credentials: credentials, query: query, bad: bad)
        case "redis+sentinel":
            try self.init(sentinel: rest, credentials: credentials, query: query, bad: bad)
        case "unix":
            guard rest.hasPrefix("/"), rest.count > 1 else { throw bad("unix URL needs an absolute socket path") }
            self.init(endpoint: .unix(path: rest), user: query["user"], password: query["password"])
            if let db = query["db"] {
                guard let n = Int(db), n >= 0 else { throw bad("database '\(db)' is not a number") }
                database = n
            }
        case "redis":
            var hostPart = rest
            var path = ""
            if let slash = rest.firstIndex(of: "/") {
                hostPart = String(rest[..<slash])
                path = String(rest[rest.index(after: slash)...])
            }
            let (user, password) = RedisURL.split(credentials)
            let (host, port) = try RedisURL.hostAndPort(hostPart, bad: bad)
            var database = 0
            if !path.isEmpty {
                guard let n = Int(path), n >= 0 else { throw bad("database '\(path)' is not a number") }
                database = n
            } else if let db = query["db"] {
                guard let n = Int(db), n >= 0 else { throw bad("database '\(db)' is not a number") }
                database = n
            }
            self.init(endpoint: .tcp(host: host, port: port), user: user, password: password, database: database)
        default:
            throw bad("unknown scheme '\(scheme)' (expected redis://, redis+sentinel://, redis+cluster:// or unix://)")
        }
    }

    /// User and password of a URL's userinfo, percent-decoded.
    static func split(_ credentials: Substring?) -> (user: String?, password: String?) {
        guard let credentials else { return (nil, nil) }
        if let colon = credentials.firstIndex(of: ":") {
            let u = String(credentials[..<colon])
            return (u.isEmpty ? nil : RedisURL.percentDecoded(u),
                    RedisURL.percentDecoded(String(credentials[credentials.index(after: colon)...])))
        }
        // `redis://secret@host` is the common redis-cli form for a bare password.
        return (nil, credentials.isEmpty ? nil : RedisURL.percentDecoded(String(credentials)))
    }

    /// `host`, `host:port`, `[v6]` or `[v6]:port`; the port defaults to `defaultPort`.
    static func hostAndPort(_ hostPart: String, defaultPort: Int = 6379, bad: (String) -> RedisError) throws -> (String, Int) {
        var host = hostPart
        var port = defaultPort
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw bad("unclosed IPv6 bracket") }
            host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw bad("port '\(after.dropFirst())' is not a number from 1 to 65535")
                }
                port = p
            }
        } else if let colon = hostPart.lastIndex(of: ":") {
            host = String(hostPart[..<colon])
            let p = hostPart[hostPart.index(after: colon)...]
            guard let n = Int(p), (1...65535).contains(n) else {
                throw bad("port '\(p)' is not a number from 1 to 65535")
            }
            port = n
        }
        guard !host.isEmpty else { throw bad("missing host") }
        return (host, port)
    }

    /// The URL named by `KALE_REDIS_URL`, else ``fallback``.
    public static func fromEnvironment(_ environment: [String: String]) throws -> RedisURL {
        try RedisURL(parsing: environment[environmentKey] ?? fallback)
    }

    /// The URL with any password replaced by `***`.
    public var description: String {
        let auth: String
        switch (user, password) {
        case (nil, nil): auth = ""
        case (let u?, nil): auth = "\(u)@"
        case (let u, _?): auth = "\(u ?? ""):***@"
        }
        switch endpoint {
        case .tcp(let host, let port):
            let h = host.contains(":") ? "[\(host)]" : host
            return "redis://\(auth)\(h):\(port)/\(database)"
        case .sentinel(let nodes, let master):
            return "redis+sentinel://\(auth)\(nodes.map(\.description).joined(separator: ","))/\(master)/\(database)"
                + sentinelQuery(password: sentinelPassword.map { _ in "***" })
        case .cluster(let nodes):
            return "redis+cluster://\(auth)\(nodes.map(\.description).joined(separator: ","))"
        case .unix(let path):
            var items: [String] = []
            if database != 0 { items.append("db=\(database)") }
            if let user { items.append("user=\(user)") }
            if password != nil { items.append("password=***") }
            return "unix://\(path)" + (items.isEmpty ? "" : "?" + items.joined(separator: "&"))
        }
    }

    /// The URL as text *with* its password, to hand to a child process or a tool.
    ///
    /// Never log it or print it: that is what ``description`` is for.
    public var connectionString: String {
        switch endpoint {
        case .tcp(let host, let port):
            let h = host.contains(":") ? "[\(host)]" : host
            let auth = password.map { "\(RedisURL.percentEncoded(user ?? "")):\(RedisURL.percentEncoded($0))@" }
                ?? user.map { "\(RedisURL.percentEncoded($0))@" } ?? ""
            return "redis://\(auth)\(h):\(port)/\(database)"
        case .sentinel(let nodes, let master):
            let auth = password.map { "\(RedisURL.percentEncoded(user ?? "")):\(RedisURL.percentEncoded($0))@" }
                ?? user.map { "\(RedisURL.percentEncoded($0))@" } ?? ""
            return "redis+sentinel://\(auth)\(nodes.map(\.description).joined(separator: ","))/\(RedisURL.percentEncoded(master))/\(database)"
                + sentinelQuery(password: sentinelPassword.map(RedisURL.percentEncoded))
        case .cluster(let nodes):
            let auth = password.map { "\(RedisURL.percentEncoded(user ?? "")):\(RedisURL.percentEncoded($0))@" }
                ?? user.map { "\(RedisURL.percentEncoded($0))@" } ?? ""
            return "redis+cluster://\(auth)\(nodes.map(\.description).joined(separator: ","))"
        case .unix(let path):
            var items = ["db=\(database)"]
            if let user { items.append("user=\(RedisURL.percentEncoded(user))") }
            if let password { items.append("password=\(RedisURL.percentEncoded(password))") }
            return "unix://\(path)?" + items.joined(separator: "&")
        }
    }

    static func percentEncoded(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if byte < 0x80, c.isLetter || c.isNumber || "-._~".contains(c) { out.append(c) }
            else { out += String(format: "%%%02X", byte) }
        }
        return out
    }

    /// Hides the password of a URL string that may not even parse, for error messages.
    public static func redact(_ text: String) -> String {
        var out = text
        // Every `password=` item: a Sentinel URL may hold the sentinels' and the master's.
        var from = out.startIndex
        while let q = out.range(of: "password=", range: from..<out.endIndex) {
            let end = out[q.upperBound...].firstIndex(of: "&") ?? out.endIndex
            out.replaceSubrange(q.upperBound..<end, with: "***")
            from = out.index(q.upperBound, offsetBy: 3)
        }
        guard let schemeEnd = out.range(of: "://"),
              let at = out[schemeEnd.upperBound...].lastIndex(of: "@")
        else { return out }
        let credentials = out[schemeEnd.upperBound..<at]
        if let colon = credentials.firstIndex(of: ":") {
            out.replaceSubrange(out.index(after: colon)..<at, with: "***")
        } else if !credentials.isEmpty {
            out.replaceSubrange(schemeEnd.upperBound..<at, with: "***")
        }
        return out
    }

    static func percentDecoded(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%"), it.count >= 2,
               let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
