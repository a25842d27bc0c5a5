public import KaleRedis

extension AccessRole {
    /// Checks that the Redis user of `connection` holds every permission of this role,
    /// without changing anything: each command, script and channel of the role is queued in
    /// a transaction that is then discarded.
    ///
    /// Redis checks the ACL when it queues a command in MULTI (a refused one answers NOPERM
    /// instead of QUEUED), and DISCARD drops what was queued, so nothing runs. MULTI is tried
    /// on its own first: were it refused, the commands after it would run for real. The keys
    /// named are `<prefix>:{<queue>}:acl-probe`, one slot, which nothing stores. Commands sent
    /// only by some deployments are checked only where they are: `ROLE` with a Sentinel URL,
    /// `WAIT` with `replicated`, `SELECT` for a database other than 0. Only refusals count:
    /// any other reply (a server older than Redis 7 answering otherwise) passes.
    ///
    /// - Throws: ``RedisError`` with code `.permission` naming the first rule the user lacks
    ///   and how many more are missing; the connection's own errors.
    public func check(on connection: RedisConnection, keys: Keys, queue: String, replicated: Bool = false) throws {
        let url = connection.configuration.url
        let multi = try connection.execute([RedisCommand("MULTI"), RedisCommand("DISCARD")])
        if case .error(let message) = multi[0] {
            throw RedisError(serverReply: message, to: RedisCommand("MULTI"), user: url.user)
        }
        var sentinel = false
        if case .sentinel = url.endpoint { sentinel = true }
        let probes = probeCommands(keys: keys, queue: queue, database: url.database, sentinel: sentinel, replicated: replicated)
        let replies = try connection.execute([RedisCommand("MULTI")] + probes + [RedisCommand("DISCARD")])
        var refusals: [RedisError] = []
        for (command, reply) in zip(probes, replies.dropFirst()) {
            guard case .error(let message) = reply, RedisError.isPermissionRefusal(message) else { continue }
            refusals.append(RedisError(serverReply: message, to: command, user: url.user))
        }
        guard var first = refusals.first else { return }
        if refusals.count > 1 {
            first.detail += "; \(refusals.count - 1) more of the \(name) role's permissions are missing (`kale acl \(name)` prints them all)"
        }
        throw first
    }

    /// One command per script, command and channel of the role, in that order (the scripts
    /// are what a role is about), with arguments of the right number.
    func probeCommands(keys: Keys, queue: String, database: Int, sentinel: Bool, replicated: Bool) -> [RedisCommand] {
        let key = keys.queuePrefix(queue) + "acl-probe"
        let channel = keys.doneChannel("acl-probe")
        var out = scripts.map { $0.command(keys: [key], arguments: []) }
        for name in commandNames(database: database) {
            if name == "multi" || name == "exec" || name == "discard" { continue }
            if !sentinel, Self.sentinelOnly.contains(name) { continue }
            if !replicated, Self.replicationOnly.contains(name) { continue }
            guard let command = Self.sample(name, key: key, channel: channel) else { continue }
            out.append(command)
        }
        out += channels.map { pattern in
            let name = (pattern.hasSuffix("*") ? pattern.dropLast() + "acl-probe" : pattern).replacing("{*}", with: "{\(queue)}")
            return RedisCommand("SUBSCRIBE", "\(keys.prefix):" + name)
        }
        return out
    }

    /// `name` (an ACL name) with arguments Redis accepts for queueing, or nil for a
    /// command the probe does not know (``AccessRoleTests`` keeps the table complete).
    static func sample(_ name: String, key: String, channel: String) -> RedisCommand? {
        let parts = name.split(separator: "|").map { String($0).uppercased() }
        guard let arguments = sampleArguments[name] ?? (parts[0] == "SELECT" ? [] : nil) else { return nil }
        let filled: [any RedisArgument] = arguments.map { $0 == "K" ? key : $0 == "C" ? channel : $0 }
        return RedisCommand(parts[0], arguments: parts.dropFirst().map { $0 as any RedisArgument } + filled)
    }

    /// Arguments after the command's name: `K` is the probe's key, `C` its channel.
    static let sampleArguments: [String: [String]] = [
        "ping": [], "time": [], "role": [], "wait": ["0", "0"], "cluster|slots": [], "asking": [],
        "client|setname": ["kale-acl-probe"], "script|load": ["return 1"], "pubsub|numsub": ["C"],
        "publish": ["C", "x"], "subscribe": ["C"], "unsubscribe": ["C"],
        "pubsub|shardnumsub": ["C"], "spublish": ["C", "x"], "ssubscribe": ["C"], "sunsubscribe": ["C"],
        "blpop": ["K", "1"], "del": ["K"], "exists": ["K"], "get": ["K"], "set": ["K", "1"], "setex": ["K", "1", "1"],
        "incr": ["K"], "mget": ["K"], "pexpire": ["K", "1"], "persist": ["K"], "pttl": ["K"],
        "hget": ["K", "f"], "hgetall": ["K"], "hmget": ["K", "f"], "hset": ["K", "f", "v"], "hsetnx": ["K", "f", "v"],
        "hincrby": ["K", "f", "1"], "hdel": ["K", "f"], "hexists": ["K", "f"], "hkeys": ["K"], "hlen": ["K"], "hstrlen": ["K", "f"],
        "lpush": ["K", "v"], "rpush": ["K", "v"], "rpop": ["K"], "llen": ["K"], "lrem": ["K", "0", "v"], "lrange": ["K", "0", "0"],
        "lindex": ["K", "0"], "sadd": ["K", "m"], "smembers": ["K"],
        "xadd": ["K", "*", "f", "v"], "xread": ["STREAMS", "K", "0"], "xrevrange": ["K", "+", "-"],
        "zadd": ["K", "1", "m"], "zcard": ["K"], "zpopmin": ["K"], "zrange": ["K", "0", "0"], "zrangebyscore": ["K", "0", "1"],
        "zrem": ["K", "m"], "zrevrange": ["K", "0", "0"], "zscore": ["K", "m"],
    ]
}
