extension RedisScript {
    /// The Redis commands this script can call, as ACL names (`hset`, `pubsub|numsub`),
    /// sorted, read from its source.
    ///
    /// Redis checks every `redis.call` inside a script against the ACL of the user running
    /// it, so a user allowed to run a script needs the commands the script calls too. Found:
    /// `redis.call('NAME'` and `redis.pcall('NAME'` (with a container command's subcommand,
    /// `redis.call('PUBSUB', 'NUMSUB'`), and commands built at run time as a table headed by
    /// their upper-case name (`{'XADD', key, …}`, later `redis.call(unpack(t))`). A call whose
    /// name is a variable would be missed, so scripts never do that.
    public var calledCommands: [String] {
        Array(Set(LuaCalls.commands(in: source))).sorted()
    }
}

/// Finds the Redis commands a Lua source calls, without a Lua parser: Kale's scripts name
/// each command as a string literal where they call it.
enum LuaCalls {
    /// Commands whose first argument is a subcommand, which the ACL names `command|sub`.
    static let containers: Set<String> = [
        "ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "FUNCTION", "LATENCY", "MEMORY", "MODULE", "OBJECT",
        "PUBSUB", "SCRIPT", "SLOWLOG", "XGROUP", "XINFO",
    ]

    /// The ACL names of the commands called in `source` (or one line of it), in order of
    /// appearance, repeats included.
    static func commands(in source: String) -> [String] {
        let text = Array(source.utf8)
        var found: [String] = []
        var i = 0
        while i < text.count {
            if let after = match("redis.call(", text, i) ?? match("redis.pcall(", text, i) {
                if case let (name, end)? = literal(text, skipSpace(text, after)) {
                    var acl = name.lowercased()
                    let next = skipSpace(text, end)
                    if containers.contains(name.uppercased()), next < text.count, text[next] == UInt8(ascii: ","),
                       case let (sub, _)? = literal(text, skipSpace(text, next + 1)) {
                        acl += "|" + sub.lowercased()
                    }
                    found.append(acl)
                }
                i = after
            } else if text[i] == UInt8(ascii: "{"), case let (name, end)? = literal(text, skipSpace(text, i + 1)),
                      isCommandName(name), comma(text, end) {
                // A command assembled as a table, `{'XADD', …}`, and called later with unpack.
                found.append(name.lowercased())
                i = end
            } else {
                i += 1
            }
        }
        return found
    }

    /// An upper-case word, as Kale's scripts write the head of a command table.
    private static func isCommandName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || $0 == 95 }
    }

    private static func comma(_ text: [UInt8], _ at: Int) -> Bool {
        let i = skipSpace(text, at)
        return i < text.count && text[i] == UInt8(ascii: ",")
    }

    private static func match(_ word: String, _ text: [UInt8], _ at: Int) -> Int? {
        let w = Array(word.utf8)
        guard at + w.count <= text.count, Array(text[at..<at + w.count]) == w else { return nil }
        return at + w.count
    }

    private static func skipSpace(_ text: [UInt8], _ at: Int) -> Int {
        var i = at
        while i < text.count, text[i] == 32 || text[i] == 9 || text[i] == 10 || text[i] == 13 { i += 1 }
        return i
    }

    /// A single- or double-quoted literal at `at`: its text and the index after its quote.
    private static func literal(_ text: [UInt8], _ at: Int) -> (String, Int)? {
        guard at < text.count, text[at] == UInt8(ascii: "'") || text[at] == UInt8(ascii: "\"") else { return nil }
        let quote = text[at]
        var i = at + 1
        while i < text.count, text[i] != quote {
            if text[i] == 10 || text[i] == UInt8(ascii: "\\") { return nil }
            i += 1
        }
        guard i < text.count else { return nil }
        return (String(decoding: text[(at + 1)..<i], as: UTF8.self), i + 1)
    }
}
