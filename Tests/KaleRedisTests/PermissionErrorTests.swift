import KaleRedis
import KaleTestSupport
import Testing

/// ACL refusals against a real Redis 7: each comes back as one line, code `.permission`,
/// naming the Redis user and the rule it lacks, whichever way the command was sent.
@Suite struct PermissionErrorTests {
    let shared = RedisServer.shared

    /// A user on the shared server with `rules` (after `reset on >secret`), a client logged
    /// in as it, and the user deleted afterwards.
    private func asUser<T>(_ rules: [String], _ body: (RedisClient, String) async throws -> T) async throws -> T {
        let admin = RedisClient(configuration: shared.configuration(poolSize: 1))
        defer { admin.close() }
        let name = "perm-\(UInt32.random(in: 0...UInt32.max))"
        try await admin.send(RedisCommand("ACL", arguments: ["SETUSER", name, "reset", "on", ">secret"] + rules))
        var configuration = shared.configuration(poolSize: 1)
        configuration.url.user = name
        configuration.url.password = "secret"
        let client = RedisClient(configuration: configuration)
        defer { client.close() }
        do {
            let value = try await body(client, name)
            try await admin.send("ACL", "DELUSER", name)
            return value
        } catch {
            try await admin.send("ACL", "DELUSER", name)
            throw error
        }
    }

    private func expectOneLine(_ error: RedisError?, naming fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(error?.code == .permission, "\(String(describing: error))", sourceLocation: sourceLocation)
        let detail = error?.detail ?? ""
        for f in fragments { #expect(detail.contains(f), "'\(f)' in: \(detail)", sourceLocation: sourceLocation) }
        #expect(!detail.contains("\n"), sourceLocation: sourceLocation)
    }

    @Test func refusedCommandNamesTheUserAndTheRule() async throws {
        let ns = testNamespace()
        try await asUser(["~\(ns):*", "+client|setname", "+get"]) { client, user in
            let error = await redisError { try await client.send("DEL", "\(ns):x") }
            expectOneLine(error, naming: ["the Redis user '\(user)'", "may not run DEL", "`+del`", "NOPERM"])
        }
    }

    @Test func refusedScriptNamesItsSHA1() async throws {
        let script = RedisScript(name: "probe-\(testNamespace())", source: "return 1")
        try await asUser(["+@all", "-evalsha"]) { client, user in
            let error = await redisError { try await client.run(script, keys: [], arguments: []) }
            expectOneLine(error, naming: ["'\(user)'", "the script '\(script.name)'", "`+evalsha|\(script.sha1)`"])
        }
    }

    /// Inside a script Redis names no command, only the line: it is read from the source.
    @Test func refusedCallInsideAScriptNamesTheCommandOnItsLine() async throws {
        let ns = testNamespace()
        let script = RedisScript(name: "two-calls", source: """
            -- \(ns)
            redis.call('SET', KEYS[1], 'a')
            return redis.call('ZADD', KEYS[1] .. ':z', 1, 'm')
            """)
        try await asUser(["~\(ns):*", "+client|setname", "+set", "+script|load", "+evalsha|\(script.sha1)"]) { client, user in
            let error = await redisError { try await client.run(script, keys: ["\(ns):k"], arguments: []) }
            expectOneLine(error, naming: ["'\(user)'", "may not run ZADD", "the script 'two-calls'", "(line 3)", "`+zadd`"])
        }
    }

    @Test func refusedKeyNamesTheKeyAndAPattern() async throws {
        let ns = testNamespace()
        try await asUser(["~\(ns):*", "+client|setname", "+get"]) { client, user in
            let error = await redisError { try await client.send("GET", "other-\(ns):x") }
            expectOneLine(error, naming: ["'\(user)'", "key 'other-\(ns):x'", "with GET", "`~other-\(ns):*`"])
        }
    }

    /// Kale loads a script when Redis answers NOSCRIPT; a user allowed to run it but not to
    /// load it is told so, not left with "script not loaded".
    @Test func refusedScriptLoadNamesTheRule() async throws {
        let script = RedisScript(name: "unloaded", source: "return '\(testNamespace())'")
        try await asUser(["+client|setname", "+evalsha|\(script.sha1)"]) { client, user in
            let error = await redisError { try await client.run(script, keys: [], arguments: []) }
            expectOneLine(error, naming: ["'\(user)'", "`+script|load`"])
        }
    }

    /// The synchronous connection (the worker's start probe uses it) and a dedicated one
    /// word refusals the same way.
    @Test func everyWayOfSendingNamesTheRule() async throws {
        let ns = testNamespace()
        try await asUser(["~\(ns):*", "+client|setname", "+get"]) { client, user in
            let configuration = client.configuration
            let blocking = await redisError {
                _ = try await onThread { try RedisConnection(configuration: configuration).send(RedisCommand("HSET", "\(ns):h", "f", "v")) }
            }
            expectOneLine(blocking, naming: ["'\(user)'", "`+hset`"])
            let dedicated = client.dedicatedConnection(name: "perm-test")
            defer { dedicated.close() }
            let error = await redisError { try await dedicated.send(RedisCommand("LPUSH", "\(ns):l", "v")) }
            expectOneLine(error, naming: ["'\(user)'", "`+lpush`"])
            let piped = await redisError { try await client.checkedPipeline([RedisCommand("GET", "\(ns):a"), RedisCommand("INCR", "\(ns):a")]) }
            expectOneLine(piped, naming: ["'\(user)'", "`+incr`"])
        }
    }

    /// Connecting sends CLIENT SETNAME (the default client name is `kale`); a user that
    /// may not is told which rule to add.
    @Test func refusedClientNameNamesTheRule() async throws {
        try await asUser(["+ping"]) { client, user in
            let error = await redisError { try await client.send("PING") }
            expectOneLine(error, naming: ["'\(user)'", "`+client|setname`"])
        }
    }

    @Test func scriptCommandsAreReadFromTheSource() {
        let script = RedisScript(name: "t", source: """
            local e = {'XADD', KEYS[1], '*', 'k', 'v'}
            if redis.call('PUBSUB', 'NUMSUB', ARGV[1])[2] == 0 then return end
            redis.pcall("hset", KEYS[2], 'f', 1)
            local t = {'not', 'a command'}
            redis.call(unpack(e))
            redis.call('HSET', KEYS[2], 'g', 2)
            """)
        #expect(script.calledCommands == ["hset", "pubsub|numsub", "xadd"])
    }
}
