public import Kale
import KaleRedis

/// What waits in a Celery queue that Kale workers take over: kombu's four lists, and Kale's
/// intake list (messages a blocked worker moved out, not yet made into tasks).
public struct CeleryQueueStats: Sendable, Hashable {
    public var queue: String
    /// kombu's `global_keyprefix` the workers use for it.
    public var brokerPrefix: String
    /// Messages in kombu's lists, one per priority step (``steps``), highest priority first.
    public var kombuPending: [Int]
    public var steps: [Int]
    public var intake: Int
    /// Entries in kombu's `unacked` hash under that prefix: always 0 for a queue only Kale
    /// consumes (Kale never writes it); more means Python workers consume under this prefix too.
    public var unacked: Int

    public var json: JSONValue {
        .object(["celery_queue": .string(queue), "broker_prefix": .string(brokerPrefix),
                 "kombu_pending": .array(kombuPending.map { .number(Double($0)) }),
                 "priority_steps": .array(steps.map { .number(Double($0)) }),
                 "intake": .number(Double(intake)), "unacked": .number(Double(unacked))])
    }

    /// The member of Kale's registry of bridged queues (``Kale/Keys/celeryQueues``) naming
    /// `queue` under kombu prefix `prefix`.
    public static func registryMember(queue: String, keys: CeleryKeys) -> String {
        JSONValue.object(["queue": .string(queue), "prefix": .string(keys.brokerPrefix),
                          "steps": .array(keys.steps.map { .number(Double($0)) }), "sep": .string(keys.sep)]).jsonString
    }

    /// Every bridged queue that workers have announced, with its lengths, in one round trip.
    public static func all(_ client: KaleClient) async throws -> [CeleryQueueStats] {
        let members = try await client.redis.send("SMEMBERS", client.configuration.keys.celeryQueues).strings ?? []
        let queues: [(queue: String, keys: CeleryKeys)] = members.compactMap { m in
            guard let v = try? JSONValue(parsing: Array(m.utf8)), let q = v["queue"]?.stringValue else { return nil }
            let steps = v["steps"]?.arrayValue?.compactMap { $0.doubleValue.map { Int($0) } } ?? CeleryKeys.prioritySteps
            return (q, CeleryKeys(brokerPrefix: v["prefix"]?.stringValue ?? "", prioritySteps: steps,
                                  separator: v["sep"]?.stringValue ?? CeleryKeys.separator))
        }.sorted { ($0.keys.brokerPrefix, $0.queue) < ($1.keys.brokerPrefix, $1.queue) }
        guard !queues.isEmpty else { return [] }
        var commands: [RedisCommand] = []
        for (q, keys) in queues {
            commands += keys.buckets(q).map { RedisCommand("LLEN", $0.list) }
            commands.append(RedisCommand("LLEN", client.configuration.keys.celeryIntake(q, brokerPrefix: keys.brokerPrefix)))
            commands.append(RedisCommand("HLEN", keys.unacked))
        }
        let replies = try await client.redis.pipeline(commands)
        for r in replies { try r.throwingServerError() }
        var out: [CeleryQueueStats] = []
        var i = 0
        for (q, keys) in queues {
            let n = keys.steps.count
            let r = replies[i..<(i + n + 2)].map { $0.int ?? 0 }
            i += n + 2
            out.append(CeleryQueueStats(queue: q, brokerPrefix: keys.brokerPrefix, kombuPending: Array(r[0..<n]), steps: keys.steps,
                                        intake: r[n], unacked: r[n + 1]))
        }
        return out
    }
}
