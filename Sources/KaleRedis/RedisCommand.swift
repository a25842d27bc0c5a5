/// A value that can be sent as one argument of a Redis command, binary safe.
public protocol RedisArgument: Sendable {
    /// The bytes sent on the wire for this argument.
    var redisBytes: [UInt8] { get }
}

extension String: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}
extension Substring: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}
extension Int: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}
extension Int64: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}
extension Double: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}
extension Array: RedisArgument where Element == UInt8 {
    public var redisBytes: [UInt8] { self }
}

/// One command with its arguments, ready to send.
///
/// Build it from any ``RedisArgument`` values: `RedisCommand("LPUSH", key, payload)`.
/// A command that blocks on the server (BLPOP, BLMOVE …) carries the server-side timeout in
/// ``blockingTimeout`` so the connection waits on the socket for longer than the server does.
public struct RedisCommand: Sendable {
    public var arguments: [[UInt8]]
    /// The longest the server may hold the reply back (the command's own timeout argument).
    public var blockingTimeout: Duration?
    /// For EVALSHA: the script to load when the server answers NOSCRIPT.
    public var script: RedisScript?

    public init(_ name: String, _ arguments: any RedisArgument...) {
        self.init(name, arguments: arguments)
    }

    public init(_ name: String, arguments: [any RedisArgument]) {
        var args: [[UInt8]] = [Array(name.utf8)]
        args.reserveCapacity(arguments.count + 1)
        for a in arguments { args.append(a.redisBytes) }
        self.arguments = args
    }

    /// A command that the server may hold for up to `timeout` before answering.
    public static func blocking(_ timeout: Duration, _ name: String, arguments: [any RedisArgument]) -> RedisCommand {
        var command = RedisCommand(name, arguments: arguments)
        command.blockingTimeout = timeout
        return command
    }

    /// The command's name, for logs and errors (never its arguments, which may hold secrets).
    public var name: String { String(decoding: arguments.first ?? [], as: UTF8.self) }
}
