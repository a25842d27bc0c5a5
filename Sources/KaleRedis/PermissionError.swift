import Foundation

extension RedisError {
    /// The error for `message`, the server's error reply to `command` sent as `user`.
    ///
    /// A refusal by the server's ACL becomes code ``Code/permission`` with one line naming
    /// the Redis user and the rule it lacks, then the server's own text in parentheses:
    /// `the Redis user 'kale-producer' may not run the script 'fetch': its ACL lacks
    /// `+evalsha|0b6d…` (NOPERM …)`. Redis's `NOPERM this user has no permissions to run
    /// the 'evalsha' command` names neither the user nor the script, and the rule to add
    /// needs both; inside a script it names not even the command, so the line of the
    /// script's source it reports is read for it. Any other reply keeps its text, after
    /// `context` when given (`SCRIPT LOAD failed (SCRIPT)`).
    public init(serverReply message: String, to command: RedisCommand, user: String?, context: String? = nil) {
        if let detail = PermissionText.explain(message, command: command, user: user) {
            self.init(.permission, detail: detail)
        } else {
            self.init(message.hasPrefix("NOSCRIPT") ? .noScript : .server, detail: context.map { "\($0): \(message)" } ?? message)
        }
    }

    /// Whether `message`, a server's error reply, is a refusal by its ACL: `NOPERM …` (a
    /// command, key or channel), or a script's call refused (`ERR The user executing the
    /// script can't …`, `ERR ACL failure in script …`).
    public static func isPermissionRefusal(_ message: String) -> Bool {
        message.hasPrefix("NOPERM") || message.contains("The user executing the script can't")
            || message.contains("ACL failure in script")
    }
}

extension RedisReply {
    /// Throws the server's error for an `.error` reply to `command`, sent as `user`, else
    /// returns the reply unchanged; an ACL refusal names the user and the rule it lacks
    /// (``RedisError/init(serverReply:to:user:context:)``).
    ///
    /// - Throws: ``RedisError`` with code `.permission`, `.server` or `.noScript`.
    @discardableResult
    public func throwingServerError(for command: RedisCommand, user: String?) throws -> RedisReply {
        if case .error(let message) = self { throw RedisError(serverReply: message, to: command, user: user) }
        return self
    }
}

/// The wording of ACL refusals. Every sentence names who was refused and the rule that
/// would allow it, so an operator can fix the ACL without knowing what NOPERM means.
enum PermissionText {
    static func who(_ user: String?) -> String { user.map { "the Redis user '\($0)'" } ?? "the Redis default user" }

    static func explain(_ message: String, command: RedisCommand, user: String?) -> String? {
        guard RedisError.isPermissionRefusal(message) else { return nil }
        let server = "(\(message.hasSuffix(".") ? String(message.dropLast()) : message))"
        if let sha = scriptSHA(in: message) { return inScript(message, sha: sha, command: command, user: user) + " " + server }
        let name = command.name.uppercased()
        let lower = message.lowercased()
        let commandRefused = message.contains("run the '")
        if !commandRefused, lower.contains("channel") {
            let channel = command.arguments.count > 1 ? String(decoding: command.arguments[1], as: UTF8.self) : "?"
            return "\(who(user)) lacks the pub/sub channel permission for '\(channel)' (\(name)): add `&\(pattern(channel))` to its ACL \(server)"
        }
        if !commandRefused, lower.contains("key") {
            let keys = keys(of: command)
            let named = keys.count == 1 ? "key '\(keys[0])'" : "one of the keys '\(keys.first ?? "?")' … (\(keys.count))"
            return "\(who(user)) may not access \(named) with \(name): its ACL has no key pattern allowing it "
                + "(such as `~\(pattern(keys.first ?? "*"))`, or `%R~`/`%W~` for reads or writes only) \(server)"
        }
        // `run the 'client|setname' command`; older and newer servers word it alike.
        let refused = quoted(after: "run the '", in: message) ?? command.name.lowercased()
        if refused == "evalsha" || refused == "evalsha_ro" {
            let sha = command.arguments.count > 1 ? String(decoding: command.arguments[1], as: UTF8.self).lowercased() : "?"
            let script = command.script.map { "the script '\($0.name)'" } ?? "the script \(sha)"
            return "\(who(user)) may not run \(script): its ACL lacks `+\(refused)|\(sha)` \(server)"
        }
        if refused == "script|load" {
            return "\(who(user)) may not load scripts (SCRIPT LOAD, sent when Redis does not hold one yet): its ACL lacks `+script|load` \(server)"
        }
        let shown = refused.split(separator: "|").joined(separator: " ").uppercased()
        return "\(who(user)) may not run \(shown): its ACL lacks `+\(refused)` \(server)"
    }

    /// A refusal of a call inside a script: `… script: <sha1>, on @user_script:<line>.`
    private static func inScript(_ message: String, sha: String, command: RedisCommand, user: String?) -> String {
        let script = command.script.map { "the script '\($0.name)'" } ?? "the script \(sha)"
        var calls: [String] = []
        var place = ""
        if let line = quotedLine(in: message) {
            place = " (line \(line))"
            if let source = command.script?.source {
                let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
                if line >= 1, line <= lines.count { calls = LuaCalls.commands(in: String(lines[line - 1])) }
            }
        }
        let firstKey = keys(of: command).first
        let lower = message.lowercased()
        if lower.contains("channel") {
            return "\(who(user)) may not publish to a channel that \(script) announces on\(place): its ACL lacks a channel pattern "
                + "such as `&\(firstKey.map(pattern) ?? "*")`"
        }
        if lower.contains("key") {
            return "\(who(user)) may not access a key that \(script) uses\(place): its ACL has no key pattern allowing it "
                + "(such as `~\(firstKey.map(pattern) ?? "*")`)"
        }
        let named = calls.map { $0.split(separator: "|").joined(separator: " ").uppercased() }
        switch named.count {
        case 0:
            return "\(who(user)) may not run a command that \(script) calls\(place): its ACL lacks it (ACL LOG names it)"
        case 1:
            return "\(who(user)) may not run \(named[0]), which \(script) calls\(place): its ACL lacks `+\(calls[0])`"
        default:
            return "\(who(user)) may not run one of \(named.joined(separator: ", ")), which \(script) calls\(place): "
                + "its ACL lacks one of " + calls.map { "`+\($0)`" }.joined(separator: " ")
        }
    }

    /// The 40-hex-digit SHA1 after `script: ` in a refusal from inside a script.
    private static func scriptSHA(in message: String) -> String? {
        guard let range = message.range(of: "script: ") else { return nil }
        let sha = message[range.upperBound...].prefix { $0.isHexDigit }
        return sha.count == 40 ? String(sha).lowercased() : nil
    }

    private static func quotedLine(in message: String) -> Int? {
        guard let range = message.range(of: "@user_script:") else { return nil }
        return Int(message[range.upperBound...].prefix { $0.isNumber })
    }

    private static func quoted(after start: String, in message: String) -> String? {
        guard let range = message.range(of: start) else { return nil }
        let rest = message[range.upperBound...]
        guard let end = rest.firstIndex(of: "'") else { return nil }
        return String(rest[..<end])
    }

    /// The owner's part of a key or channel and a star: `kale:{q}:t:1` -> `kale:*`.
    static func pattern(_ name: String) -> String {
        name.firstIndex(of: ":").map { String(name[...$0]) + "*" } ?? name
    }

    /// The keys `command` names, as far as the ACL's refusal may concern them.
    static func keys(of command: RedisCommand) -> [String] {
        let args = command.arguments.dropFirst().map { String(decoding: $0, as: UTF8.self) }
        guard !args.isEmpty else { return [] }
        switch command.name.uppercased() {
        case "EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "FCALL", "FCALL_RO":
            guard args.count > 1, let n = Int(args[1]), n > 0, args.count >= 2 + n else { return [] }
            return Array(args[2..<(2 + n)])
        case "XREAD", "XREADGROUP":
            guard let at = args.firstIndex(where: { $0.uppercased() == "STREAMS" }) else { return [] }
            let rest = Array(args[(at + 1)...])
            return Array(rest.prefix(rest.count / 2))
        case "MGET", "DEL", "UNLINK", "EXISTS", "TOUCH", "WATCH":
            return args
        case "BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX":
            return Array(args.dropLast())
        default:
            return [args[0]]
        }
    }
}
