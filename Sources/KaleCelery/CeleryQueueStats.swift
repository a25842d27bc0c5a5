public import Kale
import KaleRedis

/// What waits in a Celery queue that Kale workers take over: kombu's four lists, and Kale's
/// intake list (messages a blocked worker moved out, not yet made into tasks).
public struct CeleryQueueStats: Sendable, Hashable {
    public var queue: String
    /// kombu's `global_keyprefix` the workers use for it.
    public var brokerPrefix: String
    /// Messages in kombu's lists for priorities 0, 3, 6 and 9.
    public var kombuPending: [Int]
    public var intake: Int
    /// Entries in kombu's `unacked` hash under that prefix: always 0 for a queue only Kale
    /// consumes (Kale never writes it); more means Python workers consume under this prefix too.
    public var unacked: Int

    public var json: JSONValue {
        .object(["celery_queue": .string(queue), "broker_prefix": .string(brokerPrefix),
                 "kombu_pending": .array(kombuPending.map { .number(Double($0)) }),
                 "intake": .number(Double(intake)), "unacked": .number(Double(unacked))])
    }

    /// The member of Kale's registry of bridged queues (``Kale/Keys/celeryQueues``) naming
    /// `queue` under kombu prefix `prefix`.
    public static func registryMember(queue: String, prefix: String) -> String {
        JSONValue.object(["queue": .string(queue), "prefix": .string(prefix)]).jsonString
    }

    /// Every bridged queue that workers have announced, with its lengths, in one round trip.
    public static func all(_ client: KaleClient) async throws -> [CeleryQueueStats] {
        let members = try await client.redis.send("SMEMBERS", client.configuration.keys.celeryQueues).strings ?? []
        let queues: [(String, String)] = members.compactMap { m in
            guard let v = try? JSONValue(parsing: Array(m.utf8)), let q = v["queue"]?.stringValue else { return nil }
            return (q, v["prefix"]?.stringValue ?? "")
        }.sorted { $0 < $1 }
        guard !queues.isEmpty else { return [] }
        var commands: [RedisCommand] = []
        for (q, prefix) in queues {
            let keys = CeleryKeys(brokerPrefix: prefix)
            commands += keys.buckets(q).map { RedisCommand("LLEN", $0) }
            commands.append(RedisCommand("LLEN", client.configuration.keys.celeryIntake(q)))
            commands.append(RedisCommand("EVAL", "if redis.call('TYPE', KEYS[1]).ok == 'hash' then return redis.call('HLEN', KEYS[1]) end return 0",
                                         1, keys.unacked))
        }
        let replies = try await client.redis.pipeline(commands)
        for r in replies { try r.throwingServerError() }
        return queues.enumerated().map { i, entry in
            let r = replies[(i * 6)..<((i + 1) * 6)].map { $0.int ?? 0 }
            return CeleryQueueStats(queue: entry.0, brokerPrefix: entry.1, kombuPending: Array(r[0..<4]), intake: r[4], unacked: r[5])
        }
    }
}
