public import KaleRedis

extension AccessRole {
    /// The ACL names of every command the role may run, sorted: its own and those its
    /// scripts call, `script|load` when it runs scripts (the NOSCRIPT reload), and
    /// `select|<database>` for a database other than 0.
    public func commandNames(database: Int = 0) -> [String] {
        var names = Set(commands)
        for script in scripts { names.formUnion(script.calledCommands) }
        if !scripts.isEmpty { names.insert("script|load") }
        if database != 0 { names.insert("select|\(database)") }
        return names.sorted()
    }

    /// The scripts the role may run, by name, with their SHA1 in this build.
    public var allowedScripts: [RedisScript] { scripts.sorted { $0.name < $1.name } }

    /// The ACL rules of the role for key prefix `prefix`, without user, state or password:
    /// channels, keys, commands, then one `+evalsha|<sha1>` per script.
    ///
    /// `SCRIPT LOAD` is allowed with the scripts: it only stores a script, which runs for
    /// nobody whose ACL lacks its SHA1, and Kale sends it when Redis answers NOSCRIPT (first
    /// use, a restart, a failover, SCRIPT FLUSH).
    public func rules(prefix: String, database: Int = 0) -> [String] {
        let p = Self.escaped(prefix)
        var out = ["resetchannels"]
        out += channels.map { "&\(p):\($0)" }
        out += keys.map { "\($0.access.rawValue)\(p):\($0.pattern)" }
        out += commandNames(database: database).map { "+\($0)" }
        out += allowedScripts.map { "+evalsha|\($0.sha1)" }
        return out
    }

    /// One `user` line of an ACL file (or, after `ACL SETUSER`, the same rules): the user is
    /// reset first, so the line says everything it may do.
    ///
    /// - Parameter passwordSHA256: the hex SHA-256 of its password (`#<hash>`); without it the
    ///   user has no password and cannot log in until given one.
    public func aclLine(user: String, passwordSHA256: String?, prefix: String, database: Int = 0) -> String {
        var words = ["user", user, "reset", "on"]
        if let passwordSHA256 { words.append("#" + passwordSHA256) }
        return (words + rules(prefix: prefix, database: database)).joined(separator: " ")
    }

    /// `prefix` with the characters a Redis glob treats specially escaped, so a pattern
    /// matches the prefix as written.
    static func escaped(_ prefix: String) -> String {
        var out = ""
        for c in prefix {
            if "*?[]\\".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
