extension RedisURL {
    /// Parses the part of a `redis+sentinel://` URL after its credentials:
    /// `host:port[,host:port…]/MASTER[/db]` with optional `sentinel_user`, `sentinel_password`
    /// and `db` query items. Sentinels listen on 26379 unless told otherwise.
    init(sentinel rest: String, credentials: Substring?, query: [String: String], bad: (String) -> RedisError) throws {
        let (user, password) = RedisURL.split(credentials)
        guard let slash = rest.firstIndex(of: "/") else {
            throw bad("missing master name (redis+sentinel://host:port,host:port/MASTER)")
        }
        var nodes: [HostPort] = []
        for part in rest[..<slash].split(separator: ",", omittingEmptySubsequences: false) {
            let (host, port) = try RedisURL.hostAndPort(String(part), defaultPort: 26379, bad: bad)
            nodes.append(HostPort(host: host, port: port))
        }
        let path = rest[rest.index(after: slash)...].split(separator: "/", omittingEmptySubsequences: false)
        guard let name = path.first.map({ RedisURL.percentDecoded(String($0)) }), !name.isEmpty else {
            throw bad("missing master name (redis+sentinel://host:port,host:port/MASTER)")
        }
        guard path.count <= 2 else { throw bad("too many path segments (expected /MASTER or /MASTER/db)") }
        var database = 0
        if let db = path.count == 2 ? String(path[1]) : query["db"] {
            guard let n = Int(db), n >= 0 else { throw bad("database '\(db)' is not a number") }
            database = n
        }
        self.init(endpoint: .sentinel(nodes: nodes, master: name), user: user, password: password, database: database,
                  sentinelUser: query["sentinel_user"], sentinelPassword: query["sentinel_password"])
    }

    /// The query part that carries the sentinels' own login, `password` already encoded or masked.
    func sentinelQuery(password: String?) -> String {
        var items: [String] = []
        if let sentinelUser { items.append("sentinel_user=\(RedisURL.percentEncoded(sentinelUser))") }
        if let password { items.append("sentinel_password=\(password)") }
        return items.isEmpty ? "" : "?" + items.joined(separator: "&")
    }

    /// The URL of one sentinel, logging in with the sentinels' credentials.
    func sentinelNode(_ node: HostPort) -> RedisURL {
        RedisURL(endpoint: .tcp(host: node.host, port: node.port), user: sentinelUser, password: sentinelPassword)
    }

    /// The URL of the resolved master: this URL's credentials and database at `address`.
    func master(at address: HostPort) -> RedisURL {
        RedisURL(endpoint: .tcp(host: address.host, port: address.port), user: user, password: password, database: database)
    }
}
