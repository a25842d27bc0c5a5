/// Every Redis key and channel Kale uses, in one place.
///
/// Each key of a queue carries the queue's hash tag, `kale:{images}:…`, so all of a queue's
/// keys live in one Redis Cluster slot and every script touches one slot only. The few global
/// keys (the queue and worker registries) are never touched by a script; the global keys that
/// are (the schedule leader's lease and fencing counter) share a hash tag of their own, as do
/// the limit definitions and their version.
public struct Keys: Sendable, Hashable {
    /// The first part of every key. Default `kale`; tests use a unique prefix each.
    public let prefix: String

    public init(prefix: String = "kale") {
        precondition(!prefix.isEmpty && !prefix.contains("{") && !prefix.contains("}"), "bad key prefix '\(prefix)'")
        self.prefix = prefix
    }

    /// `kale:{queue}:` — the start of every key of `queue`.
    public func queuePrefix(_ queue: String) -> String { "\(prefix):{\(queue)}:" }

    /// List of task ids waiting at `priority`; producers LPUSH, workers RPOP.
    public func pending(_ queue: String, _ priority: Priority) -> String { queuePrefix(queue) + "pending:\(priority.rawValue)" }
    /// The three pending lists, highest priority first.
    public func pendingLists(_ queue: String) -> [String] { Priority.allCases.map { pending(queue, $0) } }
    /// Sorted set of delayed and retrying task ids, scored by due time (ms).
    public func scheduled(_ queue: String) -> String { queuePrefix(queue) + "scheduled" }
    /// Sorted set of leased task ids, scored by lease deadline (ms).
    public func active(_ queue: String) -> String { queuePrefix(queue) + "active" }
    /// Sorted set of dead task ids, scored by when they died (ms).
    public func dead(_ queue: String) -> String { queuePrefix(queue) + "dead" }
    /// List of wake-up tokens that idle workers block on (BLPOP).
    public func notify(_ queue: String) -> String { queuePrefix(queue) + "notify" }
    /// Prefix of task records; the record of `id` is this plus `id`.
    public func taskPrefix(_ queue: String) -> String { queuePrefix(queue) + "t:" }
    /// Hash holding one task's message, state and result.
    public func task(_ queue: String, _ id: String) -> String { taskPrefix(queue) + id }
    /// String holding the id of the task that owns a unique key.
    public func unique(_ queue: String, _ key: String) -> String { queuePrefix(queue) + "unique:" + key }
    /// Prefix of the per-10-second counters of finished tasks (`succeeded:<bucket>` …).
    public func statsPrefix(_ queue: String) -> String { queuePrefix(queue) + "stats:" }
    /// Hash of one minute of `queue`'s history (counts by outcome, run- and wait-time
    /// histogram buckets `r0`…`r18`, `w0`…`w18`); `minute` counts from 1970. Expires after 25 h.
    public func history(_ queue: String, minute: Int64) -> String { queuePrefix(queue) + "history:" + String(minute) }
    /// Capped stream of `queue`'s task events (enqueued, started, succeeded, …).
    public func events(_ queue: String) -> String { queuePrefix(queue) + "events" }
    /// Set (with a short TTL) while someone follows `queue`'s events: the scripts then write
    /// the frequent ones too (``KaleConfiguration/recordAllEvents``).
    public func eventWatch(_ queue: String) -> String { queuePrefix(queue) + "events:watch" }
    /// Capped stream of worker events (online, offline, child died), shared by all queues.
    public var workerEvents: String { "\(prefix):events" }

    /// List of Celery messages moved out of kombu's list (under kombu prefix `brokerPrefix`) by
    /// a blocked worker, not yet made into tasks (see ``Scripts/celeryIntake``).
    public func celeryIntake(_ queue: String, brokerPrefix: String = "") -> String {
        queuePrefix(queue) + "celery:intake" + (brokerPrefix.isEmpty ? "" : ":" + brokerPrefix)
    }
    /// Hash of a queue's flow controls, read by every fetch: `paused` (since when, ms) and
    /// `limit:<task>` (the compact limit spec of a task, copied from ``limits`` by the workers
    /// that serve the queue), `limits_version` (the version of ``limits`` copied).
    public func control(_ queue: String) -> String { queuePrefix(queue) + "control" }

    /// A counter incremented before the WAIT of a replicated enqueue that may write nothing
    /// itself (a task id that exists): docs/high-availability.md.
    public func replicationBarrier(_ queue: String) -> String { queuePrefix(queue) + "replicated" }
    /// Prefix of a queue's limit state, per bucket (`<task>`, or `<task>|<key value>`):
    /// `rate:<bucket>:<spec hash>` (GCRA's theoretical arrival time), `permits:<bucket>` (sorted
    /// set of the ids holding a concurrency permit) and `wait:<bucket>` (sorted set of the ids
    /// waiting for one, by time of deferral).
    public func limitStatePrefix(_ queue: String) -> String { queuePrefix(queue) + "limit:" }
    /// Hash of the fleet's limit definitions: task name -> JSON (``TaskLimits``). The limit
    /// keys share a hash tag of their own, so a change and its version bump are one
    /// transaction on a cluster too.
    public var limits: String { "\(prefix):{limits}:defs" }
    /// Counter bumped by every change of ``limits``: workers copy the definitions into the
    /// queues they serve when it moves.
    public var limitsVersion: String { "\(prefix):{limits}:version" }

    /// Hash of the schedule definitions: schedule name -> JSON (``ScheduleDefinition``). The
    /// global schedule keys share one hash tag, like the limits'.
    public var schedules: String { "\(prefix):{schedules}:defs" }
    /// Counter bumped by every change of ``schedules``, so the firing leader re-reads them.
    public var schedulesVersion: String { "\(prefix):{schedules}:version" }
    /// The schedule leader's lease: holds `<fencing token>:<worker id>`, expires unless renewed.
    public var scheduleLeader: String { "\(prefix):{schedules}:leader" }
    /// Counter handing out fencing tokens, one per leadership won.
    public var scheduleFence: String { "\(prefix):{schedules}:fence" }
    /// Hash of one schedule's firing state, in the slot of the queue it fires into: `last`
    /// (the last tick recorded, ms), `fence` (the highest fencing token seen), `last_id` and
    /// `last_fired_at` (the last tick's task and when it was made), `fired`, `refused`
    /// (duplicate attempts turned away), `fenced` (attempts by a stale leader), `skipped`.
    public func scheduleState(_ queue: String, _ name: String) -> String { queuePrefix(queue) + "schedule:" + name }

    /// Sorted set of the ids of `queue`'s workflow steps that ended, waiting to be carried to
    /// their workflow (scored by when a worker may take them: now, or a lease's end).
    public func workflowOutbox(_ queue: String) -> String { queuePrefix(queue) + "wf:outbox" }
    /// The start of every key of workflow `id`, in a slot of its own: `kale:{wf:<id>}:`.
    public func workflowPrefix(_ id: String) -> String { "\(prefix):{wf:\(id)}:" }
    /// Hash of a workflow: `doc` (its tree, ``WorkflowNode/document``), `state`, `created_at`,
    /// `finished_at`, `result`, `failed_step`, `error`, `ttl`, `on_error` (its error callback),
    /// `collect` (failures collected as values).
    public func workflow(_ id: String) -> String { workflowPrefix(id) + "wf" }
    /// Hash of the outputs of a workflow's group at `path`, by member index.
    public func workflowJoin(_ id: String, _ path: String) -> String { workflowPrefix(id) + "join:" + path }

    /// Set of the Celery queues that workers take over (for inspection).
    public var celeryQueues: String { "\(prefix):celery:queues" }

    /// Set of every queue name ever enqueued to (for inspection).
    public var queues: String { "\(prefix):queues" }
    /// Sorted set of worker ids, scored by last heartbeat (ms).
    public var workers: String { "\(prefix):workers" }
    /// Hash describing one worker; expires when its heartbeats stop.
    public func worker(_ id: String) -> String { "\(prefix):worker:\(id)" }

    /// Channel on which a task's end is announced (payload: its state).
    public func doneChannel(_ id: String) -> String { "\(prefix):done:\(id)" }
    /// The same on a Redis Cluster: a shard channel (`SPUBLISH`) in the queue's slot, so the
    /// script that ends the task publishes on its own node and only that shard carries it.
    public func shardDoneChannel(_ queue: String, _ id: String) -> String { queuePrefix(queue) + "done:" + id }
    /// Stream of the ids of a batch's tasks that ended (field `i`), in the order they ended:
    /// written by the scripts that end a task whose record names the batch's end group, read
    /// by ``KaleClient/waitAll(_:endGroup:timeout:onEnd:)``. In the queue's slot.
    public func ends(_ queue: String, _ group: String) -> String { queuePrefix(queue) + "ends:" + group }
    /// Channel on which cancel requests for running tasks are announced (payload: task id).
    public var cancelChannel: String { "\(prefix):cancel" }

    /// Whether `name` can be used as a queue name: it ends up inside a hash tag.
    public static func isValidQueueName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 200 && name.allSatisfy { $0.isLetter || $0.isNumber || "._-".contains($0) }
    }
}
