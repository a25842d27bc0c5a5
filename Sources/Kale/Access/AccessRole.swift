import KaleRedis

/// What one kind of Kale process needs of Redis, as the rules of a Redis ACL user.
///
/// Three roles: ``producer`` (enqueue, await results, look up tasks), ``worker`` (what
/// `kale worker` does) and ``dashboard`` (read everything, write nothing but the mark that a
/// queue's events are watched). ``rules(prefix:database:)`` renders a role for one key
/// prefix; `kale acl ROLE` prints it, and docs/acl.md explains each rule.
///
/// Redis cannot restrict which script an `EVALSHA` runs in general, but Redis 7 allows a
/// command for one first argument (`+evalsha|<sha1>`): a role may run exactly the scripts it
/// lists, by their SHA1 in this build. Redis checks each command a script calls against the
/// same user, so the commands of the role's scripts (``RedisScript/calledCommands``) are
/// allowed too; none of the producer's scripts deletes anything.
public struct AccessRole: Sendable {
    /// How a key pattern may be used: `~` (both), `%R~` or `%W~`.
    enum Access: String, Sendable {
        case readWrite = "~"
        case read = "%R~"
        case write = "%W~"
    }

    /// A key pattern after `<prefix>:`, and how it may be used.
    struct KeyRule: Sendable {
        var pattern: String
        var access: Access
        init(_ pattern: String, _ access: Access = .readWrite) {
            self.pattern = pattern
            self.access = access
        }
    }

    /// `producer`, `worker` or `dashboard`.
    public let name: String
    /// One line saying what the role may do, for help and docs.
    public let summary: String
    /// The ACL user name `kale acl` gives the role unless told otherwise (`kale-producer`).
    public var defaultUser: String { "kale-\(name)" }
    /// Commands the process sends itself, as ACL names (`hset`, `client|setname`). Always
    /// `ping` (the first thing every command sends), `client|setname` (sent on connecting),
    /// `role` (sent on connecting through Sentinel), `cluster|slots` and `asking` (the slot
    /// map and a migrating slot's redirection, on a Redis Cluster) and, for writers, `wait`
    /// (replicated writes, `KALE_REPLICAS`).
    let commands: [String]
    /// The scripts the process runs by EVALSHA.
    let scripts: [RedisScript]
    let keys: [KeyRule]
    /// Channel patterns after `<prefix>:`.
    let channels: [String]

    /// Commands sent only by some deployments: the probe (``check(on:keys:queue:)``) leaves
    /// them out where they would never be sent, so a user without them still starts.
    static let sentinelOnly: Set<String> = ["role"]
    static let replicationOnly: Set<String> = ["wait"]

    /// Enqueues tasks (one, a batch, with an id or a unique key, delayed), awaits their
    /// results (SUBSCRIBE on `<prefix>:done:*`, on a cluster SSUBSCRIBE on
    /// `<prefix>:{<queue>}:done:*`, then the record) and looks tasks up. It may
    /// not lease, end, cancel, retry or delete a task, purge a queue, or touch a worker's,
    /// schedule's or limit's keys.
    public static let producer = AccessRole(
        name: "producer",
        summary: "enqueue tasks, await their results, look them up; never lease, end or delete one",
        commands: [
            "ping", "client|setname", "role", "wait", "cluster|slots", "asking",
            // A batch is plain commands in MULTI/EXEC (KaleClient+Batch); the registry of queues.
            "multi", "exec", "hset", "lpush", "zadd", "hincrby", "pexpire", "xadd", "sadd", "smembers",
            // The barrier before a replicated enqueue's WAIT (`{q}:replicated`, a counter).
            "incr",
            // Looking a task up (and, without its queue, finding it); awaiting its end (on a
            // Redis Cluster by shard channel).
            "exists", "hgetall", "subscribe", "unsubscribe", "ssubscribe", "sunsubscribe",
            // Awaiting a batch by its end group's stream (KaleClient.waitAll), and the state of
            // the tasks it cannot name: reads only.
            "xread", "hget",
        ],
        scripts: [Scripts.enqueue],
        keys: [
            KeyRule("{*}:t:*"), KeyRule("{*}:pending:*"), KeyRule("{*}:scheduled"), KeyRule("{*}:notify"),
            KeyRule("{*}:unique:*"), KeyRule("{*}:history:*"), KeyRule("{*}:events"), KeyRule("{*}:events:watch", .read),
            KeyRule("{*}:replicated"), KeyRule("queues"), KeyRule("{*}:ends:*", .read),
            // Declared by every script on a Redis Cluster and never written (ClusterSlotGuard).
            KeyRule("{*}:slot-guard"),
        ],
        channels: ["done:*", "{*}:done:*"])

    /// Everything `kale worker` does: leases and their renewal, results, retries, the
    /// reaper, promotion of delayed tasks, limits, schedules (as leader or not), workflow
    /// steps, heartbeats and the worker registry, cancel requests, events; and the diagnostic
    /// task `kale.count` (HINCRBY under the prefix). Not the Celery bridge, whose keys lie
    /// outside the prefix (docs/acl.md).
    public static let worker = AccessRole(
        name: "worker",
        summary: "run tasks as `kale worker` does: lease, renew, end, retry, reap, fire schedules, apply limits",
        commands: [
            "ping", "client|setname", "role", "wait", "cluster|slots", "asking",
            // The start check (MULTI … DISCARD) and publishing declared limits and schedules.
            "multi", "exec", "discard",
            // Fetching; heartbeats, the worker registry and its events; limit and schedule
            // versions; the wake-up of a queue; `kale.count`; cancel requests.
            "blpop", "del", "exists", "get", "hget", "hgetall", "hmget", "hset", "hincrby", "incr",
            "lpush", "pexpire", "sadd", "subscribe", "xadd", "zadd", "zrange", "zrem",
        ],
        scripts: [
            Scripts.fetch, Scripts.start, Scripts.succeed, Scripts.fail, Scripts.requeue, Scripts.progress, Scripts.extend,
            Scripts.reap, Scripts.promote, Scripts.syncLimits, Scripts.lead, Scripts.abdicate, Scripts.raiseFence, Scripts.fire,
            Scripts.enqueue, Scripts.workflowTake, Scripts.workflowJoin, Scripts.workflowEnd, Scripts.workflowTombstone,
        ],
        keys: [KeyRule("*")],
        channels: ["done:*", "{*}:done:*", "cancel"])

    /// Reads everything under the prefix (`kale inspect`, `kale events`, `kale result`
    /// without `--wait`, `kale dead list`, `kale dashboard --read-only`) and writes one kind
    /// of key: `<prefix>:{<queue>}:events:watch` (SET … PX 15000), the mark by which
    /// `kale events --follow` and the dashboard's live view ask producers and workers for
    /// the frequent events. No scripts, no channels.
    public static let dashboard = AccessRole(
        name: "dashboard",
        summary: "read queues, tasks, workers, events and stats; write only the mark that events are watched",
        commands: [
            "ping", "client|setname", "role", "cluster|slots", "asking",
            "exists", "hget", "hgetall", "hmget", "llen", "lrange", "lindex", "mget", "smembers", "time",
            "xread", "xrevrange", "zcard", "zrange", "zrevrange",
            // Only on the watch mark: the key rules allow no other write.
            "set",
        ],
        scripts: [],
        keys: [KeyRule("*", .read), KeyRule("{*}:events:watch", .write)],
        channels: [])

    /// The three roles, in the order `kale acl all` prints them.
    public static let all: [AccessRole] = [producer, worker, dashboard]

    /// The role called `name`, or nil.
    public static func named(_ name: String) -> AccessRole? { all.first { $0.name == name } }
}
