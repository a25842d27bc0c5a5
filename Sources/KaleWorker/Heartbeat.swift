import Foundation
import Kale
import KaleRedis
import Logging
import Synchronization

/// Renews the leases of every held task and keeps this worker's entry in the registry alive.
///
/// The supervisor renews leases, not the children: a CPU-bound task never loses its lease,
/// and a hung child still has its lease renewed until its hard limit kills it.
struct Heartbeat: Sendable {
    let worker: Worker

    /// The version written into the registry entry.
    static let version = "0.1.0"

    func run() async {
        var failures = 0
        while worker.isRunning || worker.held.count > 0 {
            do {
                try await beat()
                if failures > 0 { worker.logger.info("heartbeat restored", metadata: ["failures": "\(failures)"]) }
                failures = 0
            } catch {
                failures += 1
                if failures == 1 { worker.logger.warning("heartbeat failed; retrying", metadata: ["error": "\(error)"]) }
            }
            await worker.pause(failures > 0 ? .milliseconds(250) : worker.configuration.heartbeatInterval, whileHolding: true)
        }
    }

    func beat() async throws {
        let deadline = Broker.now() + worker.configuration.lease.milliseconds
        for (queue, tasks) in worker.held.leasesByQueue() {
            let sent = ContinuousClock.now
            let (lost, cancel) = try await worker.broker.extend(queue: queue, tasks: tasks, worker: worker.id, leaseDeadline: deadline)
            let lostKeys = Set(lost.map { tasks[$0].key })
            worker.held.renewed(tasks.map(\.key).filter { !lostKeys.contains($0) }, at: sent)
            for task in cancel.map({ tasks[$0] }) {
                // A request seen while the task waited to run set the flag but stopped nothing:
                // deliver it now that it runs.
                guard let entry = worker.held.entry(task.key), !entry.cancelDelivered else { continue }
                worker.held.update(task.key) { $0.cancelRequested = true }
                if entry.running, await worker.executor.stop(taskID: task.key, reason: .cancelled) {
                    worker.held.update(task.key) { $0.cancelDelivered = true }
                }
            }
            for task in lost.map({ tasks[$0] }) where worker.held.entry(task.key).map({ !$0.finishing }) ?? false {
                worker.logger.error("lease lost (another worker may run this task); stopping our run",
                                    metadata: ["task.id": "\(task.id)", "queue": "\(queue)", "lease.lost": "1"])
                worker.held.update(task.key) { $0.leaseLost = true }
                await worker.executor.stop(taskID: task.key, reason: .cancelled)
            }
        }
        try await register()
    }

    /// Writes the registry entry: who this worker is and what it runs right now.
    private func register() async throws {
        let keys = worker.kale.keys
        let running: [JSONValue] = worker.held.all.filter(\.running).map { e in
            var o: [String: JSONValue] = [
                "id": .string(e.task.id), "queue": .string(e.task.queue), "name": .string(e.name),
                "attempt": .number(Double(e.task.attempt)),
            ]
            if let s = e.startedAt { o["started_at"] = .number((s.timeIntervalSince1970 * 1000).rounded()) }
            if let p = e.progress { o["progress"] = .number(p) }
            return .object(o)
        }
        let pool = await worker.executor.describe()
        let children: [JSONValue] = pool.children.map { child in
            var o: [String: JSONValue] = [
                "slot": .number(Double(child.slot)), "pid": .number(Double(child.pid)), "rss": .number(Double(child.rssBytes)),
                "started_at": .number(Self.ms(child.startedAt)), "tasks": .number(Double(child.tasksRun)),
            ]
            if let t = child.taskID { o["task"] = .string(t) }
            return .object(o)
        }
        let exits = worker.executor.exits
        let deaths: [JSONValue] = (exits?.recent ?? []).map { e in
            var o: [String: JSONValue] = [
                "slot": .number(Double(e.slot)), "pid": .number(Double(e.pid)), "cause": .string(e.cause.rawValue),
                "at": .number(Self.ms(e.at)),
            ]
            if let t = e.taskID { o["task"] = .string(t) }
            return .object(o)
        }
        let c = worker.configuration
        let fields: [String] = [
            "id", worker.id, "host", ProcessInfo.processInfo.hostName, "pid", String(getpid()),
            "queues", c.queues.map { "\($0.name)=\($0.weight)" }.joined(separator: ","),
            "pool", c.pool.rawValue, "concurrency", String(c.concurrency),
            "started_at", String(Int64(worker.startedAt.timeIntervalSince1970 * 1000)),
            "beat_at", String(Broker.now()), "version", Heartbeat.version,
            "running", JSONValue.array(running).jsonString, "children", JSONValue.array(children).jsonString,
            "deaths", JSONValue.array(deaths).jsonString,
            "state", worker.isRunning ? "running" : "stopping",
        ]
        let key = keys.worker(worker.id)
        var commands = [
            RedisCommand("HSET", arguments: [key] + fields),
            RedisCommand("PEXPIRE", key, c.lease.milliseconds),
            RedisCommand("ZADD", keys.workers, Broker.now(), worker.id),
        ]
        let died = exits?.takeUnsent() ?? []
        let online = !worker.announcedOnline.load(ordering: .relaxed)
        if worker.kale.eventStreamLength > 0 {
            if online { commands.append(workerEvent("worker_online", [])) }
            for e in died {
                var fields = ["p", String(e.pid), "x", e.cause.rawValue]
                if let t = e.taskID { fields += ["i", t] }
                commands.append(workerEvent("child_died", fields))
            }
        }
        let replies: [RedisReply]
        do { replies = try await worker.redis.pipeline(commands) } catch {
            exits?.putBack(died)
            throw error
        }
        for (c, r) in zip(commands, replies) { try r.throwingServerError(for: c, user: worker.redis.configuration.url.user) }
        if online { worker.announcedOnline.store(true, ordering: .relaxed) }
    }

    /// An entry of the workers' event stream, by this worker.
    private func workerEvent(_ kind: String, _ fields: [String]) -> RedisCommand {
        RedisCommand("XADD", arguments: [worker.kale.keys.workerEvents, "MAXLEN", "~", worker.kale.eventStreamLength, "*",
                                         "k", kind, "w", worker.id] + fields.map { $0 as any RedisArgument })
    }

    private static func ms(_ date: Date) -> Double { (date.timeIntervalSince1970 * 1000).rounded() }

    /// Removes this worker from the registry (clean exit).
    func deregister() async {
        let keys = worker.kale.keys
        var commands = [RedisCommand("DEL", keys.worker(worker.id)), RedisCommand("ZREM", keys.workers, worker.id)]
        if worker.kale.eventStreamLength > 0 { commands.append(workerEvent("worker_offline", [])) }
        _ = try? await worker.redis.pipeline(commands)
    }
}

/// Listens for cancel requests of running tasks and stops the ones this worker holds.
final class CancelListener: Sendable {
    private let subscriber: RedisSubscriber

    init(worker: Worker) {
        var config = worker.kale.redis
        config.clientName = "kale-worker-cancel"
        let executor = worker.executor
        let held = worker.held
        let logger = worker.logger
        subscriber = RedisSubscriber(configuration: config) { _, payload in
            let id = String(decoding: payload, as: UTF8.self)
            for entry in held.entries(ofTask: id) where !entry.leaseLost {
                held.update(entry.task.key) { $0.cancelRequested = true }
                logger.info("cancel requested", metadata: ["task.id": "\(id)", "running": "\(entry.running)"])
                // Unstructured: the subscriber's thread must not wait for the child to stop.
                if entry.running {
                    Task {
                        if await executor.stop(taskID: entry.task.key, reason: .cancelled) {
                            held.update(entry.task.key) { $0.cancelDelivered = true }
                        }
                    }
                }
            }
        }
        let channel = worker.kale.keys.cancelChannel
        let subscriber = self.subscriber
        // Unstructured: subscribing must not delay the worker's start; a cancel published
        // before the subscription is confirmed is still seen by the heartbeat, which reads
        // the record's cancel flag when it renews the lease.
        Task {
            do { try await subscriber.subscribe(channel) } catch {
                // A refused SUBSCRIBE (an ACL user without channel rights) is not fatal: the
                // heartbeat still finds cancel requests, one beat later. Say so once.
                logger.warning("cannot subscribe to cancel requests; they are seen by the heartbeat instead",
                               metadata: ["error": "\(error)"])
            }
        }
    }

    func stop() { subscriber.shutdown() }
}
