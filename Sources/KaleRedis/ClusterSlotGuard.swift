/// Keeps a script from running while its slot is split between two nodes (decision 0028).
///
/// During a slot migration Redis checks only the keys a script declares: a script whose
/// declared keys have all moved is sent to the target (`ASK`), and one whose declared keys
/// are all still on the source runs there. Kale's scripts also touch keys they derive from
/// the queue's prefix (a task record named by an id popped from a list, the 10-s counters,
/// the history and the event stream), and those may be on the other side. On the target a
/// script then writes a fresh copy of a key the source still holds (so the next `MIGRATE`
/// of that key fails with `BUSYKEY` and `redis-cli --cluster reshard` stops), or reads an
/// empty one; on the source Redis aborts it at the first moved key, after the writes before
/// it. Declaring every derived key is impossible: some are named by what the script reads.
///
/// So on a cluster every script declares one more key, last: `<up to the hash tag>:slot-guard`,
/// in its own slot, which nothing ever writes. While the slot is stable a missing key costs
/// nothing. While it migrates, Redis answers a multi-key request with a missing key with
/// `TRYAGAIN` on either node (or `ASK` from the source, then `TRYAGAIN` from the target), so
/// no script of that slot runs until the migration ends, and the router waits for it within
/// its retry budget. Scripts neither count their KEYS nor tell an optional argument by
/// whether a trailing key is there (they look at ARGV), so the extra one is invisible to them.
enum ClusterSlotGuard {
    static let suffix = Array(":slot-guard".utf8)

    /// `command` with the guard key appended to its KEYS, if it runs a ``RedisScript`` (an
    /// `EVALSHA` that ``RedisScript/command(keys:arguments:)`` made: every script Kale runs)
    /// whose first key has a hash tag; otherwise `command` unchanged (without a tag the slot
    /// holds one name, and nothing the script derives from it shares that slot). Told by the
    /// command's script, not its name: no string is made for the commands that are not one.
    static func guarded(_ command: RedisCommand) -> RedisCommand {
        let arguments = command.arguments
        guard command.script != nil, arguments.count > 3,
              let count = Int(String(decoding: arguments[2], as: UTF8.self)), count > 0, arguments.count >= 3 + count,
              let guardKey = key(for: arguments[3]) else { return command }
        var out = command
        out.arguments[2] = Array(String(count + 1).utf8)
        out.arguments.insert(guardKey, at: 3 + count)
        return out
    }

    /// The guard of `key`'s slot: `key` up to the end of its hash tag, then `:slot-guard`
    /// (`kale:{images}:t:1` → `kale:{images}:slot-guard`, which the ACL roles allow).
    static func key(for key: [UInt8]) -> [UInt8]? {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")),
              let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 else { return nil }
        return Array(key[...close]) + suffix
    }
}
