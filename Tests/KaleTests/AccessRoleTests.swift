import Foundation
import KaleRedis
import Testing

@testable import Kale

/// The three ACL roles as data: what they allow, and that what they are derived from
/// (the scripts' sources, the worker's start check) stays complete.
@Suite struct AccessRoleTests {
    /// The commands of a script are read from its source, so every call must name its
    /// command as a literal, or be a command table headed by its name (`{'XADD', …}`) that
    /// is called with `unpack`.
    @Test func everyCallInTheRolesScriptsNamesItsCommand() {
        for role in AccessRole.all {
            for script in role.allowedScripts {
                let source = script.source
                var rest = Substring(source)
                while let r = [rest.range(of: "redis.call("), rest.range(of: "redis.pcall(")].compactMap({ $0 }).min(by: { $0.lowerBound < $1.lowerBound }) {
                    let after = rest[r.upperBound...].drop { $0 == " " }
                    #expect(after.hasPrefix("'") || after.hasPrefix("\"") || after.hasPrefix("unpack("),
                            "\(script.name): a call whose command is not a literal: \(after.prefix(40))")
                    rest = rest[r.upperBound...]
                }
                if source.contains("redis.call(unpack(") {
                    #expect(script.calledCommands.contains("xadd"), "\(script.name): its command tables are XADDs")
                }
            }
        }
    }

    @Test func producerMayNeitherDeleteNorLease() {
        let names = Set(AccessRole.producer.commandNames())
        for destructive in ["del", "unlink", "hdel", "rpop", "lpop", "lrem", "zrem", "zpopmin", "flushdb", "flushall", "eval", "evalsha", "script|flush"] {
            #expect(!names.contains(destructive), "the producer may run \(destructive)")
        }
        #expect(AccessRole.producer.allowedScripts.map(\.name) == ["enqueue"])
        let rules = AccessRole.producer.rules(prefix: "kale")
        #expect(rules.contains("+evalsha|\(Scripts.enqueue.sha1)") && !rules.contains("+evalsha|\(Scripts.fetch.sha1)"))
        #expect(!rules.contains("~kale:*"), "the producer's keys are named one by one")
    }

    @Test func dashboardWritesOnlyTheWatchMark() {
        let rules = AccessRole.dashboard.rules(prefix: "kale")
        #expect(rules.contains("%R~kale:*") && rules.contains("%W~kale:{*}:events:watch"))
        #expect(!rules.contains { $0.hasPrefix("~") || $0.hasPrefix("&") || $0.hasPrefix("+evalsha") })
        let writes: Set = ["set", "hset", "del", "lpush", "zadd", "sadd", "incr", "hsetnx", "xadd", "multi", "publish"]
        #expect(Set(AccessRole.dashboard.commandNames()).intersection(writes) == ["set"])
    }

    /// The worker's start check knows every command of every role, for any database.
    @Test func startCheckCoversEveryCommand() {
        for role in AccessRole.all {
            for name in role.commandNames(database: 3) where !["multi", "exec", "discard"].contains(name) {
                #expect(AccessRole.sample(name, key: "k", channel: "c") != nil, "\(role.name): no probe for \(name)")
            }
            let probes = role.probeCommands(keys: Keys(prefix: "p"), queue: "q", database: 0, sentinel: true, replicated: true)
            #expect(probes.filter { $0.name == "EVALSHA" }.count == role.allowedScripts.count)
            #expect(!probes.contains { ["MULTI", "EXEC", "DISCARD"].contains($0.name) }, "the check's own framing is not probed")
            #expect(probes.filter { $0.name == "SUBSCRIBE" }.count >= role.channels.count)
        }
    }

    @Test func rulesEscapeTheGlobCharactersOfAPrefixAndSelectTheDatabase() {
        let rules = AccessRole.worker.rules(prefix: "a*b", database: 2)
        #expect(rules.contains("~a\\*b:*") && rules.contains("&a\\*b:done:*"))
        #expect(rules.contains("+select|2") && !AccessRole.worker.rules(prefix: "kale").contains { $0.hasPrefix("+select") })
        let line = AccessRole.worker.aclLine(user: "w", passwordSHA256: "ab", prefix: "kale")
        #expect(line.hasPrefix("user w reset on #ab resetchannels "))
    }
}
