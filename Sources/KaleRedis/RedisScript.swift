/// A Lua script run by SHA1 (`EVALSHA`), loaded on demand.
///
/// The SHA1 is computed locally, so the first call costs no extra round trip when the server
/// already holds the script. When the server answers NOSCRIPT (first use, `SCRIPT FLUSH`, a
/// restart or failover) the connection loads the source and sends the call again.
public struct RedisScript: Sendable, Hashable {
    /// A short name for logs and errors.
    public let name: String
    public let source: String
    /// Lower-case hex SHA1 of ``source``, as Redis names it.
    public let sha1: String

    public init(name: String, source: String) {
        self.name = name
        self.source = source
        self.sha1 = SHA1.hex(Array(source.utf8))
    }

    /// The EVALSHA command that runs this script on `keys` with `arguments`.
    public func command(keys: [String], arguments: [any RedisArgument]) -> RedisCommand {
        var args: [any RedisArgument] = [sha1, keys.count]
        args.reserveCapacity(2 + keys.count + arguments.count)
        for k in keys { args.append(k) }
        args.append(contentsOf: arguments)
        var command = RedisCommand("EVALSHA", arguments: args)
        command.script = self
        return command
    }
}
