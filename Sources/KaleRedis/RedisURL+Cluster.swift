extension RedisURL {
    /// Parses the part of a `redis+cluster://` URL after its credentials: `host:port[,host:port…]`,
    /// the seed nodes the slot map is first asked of. A cluster has one database only, so a
    /// path or `db` other than 0 is refused rather than ignored.
    init(cluster rest: String, credentials: Substring?, query: [String: String], bad: (String) -> RedisError) throws {
        let (user, password) = RedisURL.split(credentials)
        var hosts = Substring(rest)
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            guard path.isEmpty || path == "0" else { throw bad("Redis Cluster has database 0 only, not '\(path)'") }
            hosts = rest[..<slash]
        }
        if let db = query["db"], db != "0" { throw bad("Redis Cluster has database 0 only, not '\(db)'") }
        var nodes: [HostPort] = []
        for part in hosts.split(separator: ",", omittingEmptySubsequences: false) {
            let (host, port) = try RedisURL.hostAndPort(String(part), bad: bad)
            nodes.append(HostPort(host: host, port: port))
        }
        self.init(endpoint: .cluster(nodes: nodes), user: user, password: password)
    }

    /// The URL of one node of a cluster: this URL's credentials at `node`.
    public func clusterNode(_ node: HostPort) -> RedisURL {
        RedisURL(endpoint: .tcp(host: node.host, port: node.port), user: user, password: password)
    }

    /// Whether this URL names a Redis Cluster.
    public var isCluster: Bool {
        if case .cluster = endpoint { return true }
        return false
    }
}
