import Foundation
import Kale
import KaleRedis
import Logging
import Synchronization

/// Keeps the limits the fetch script reads, in each served queue's control hash, in step
/// with the fleet's definitions (``Keys/limits``): checks their version every second and
/// copies them when it moved, so `kale limits set` takes effect without a restart.
///
/// The definitions are global (one per task name, whichever queue it runs on) and the copies
/// per queue, in the queue's slot, so a fetch reads its limits in the script that leases.
final class LimitSync: Sendable {
    let worker: Worker
    /// The version copied last, -1 before the first copy.
    private let copied = Mutex<Int>(-1)

    init(worker: Worker) { self.worker = worker }

    /// Publishes the limits the registered tasks declare in code: added when the task has
    /// none, replaced when the stored ones came from code too and differ; runtime ones stay.
    /// Returns false when Redis could not be reached (the caller tries again).
    func publishDeclared() async -> Bool {
        let declared = worker.registry.names.compactMap { name in worker.registry.handler(named: name)?.limits.map { (name, $0) } }
        guard !declared.isEmpty else { return true }
        do {
            let stored = try await worker.client.limits()
            for (name, limits) in declared {
                if let have = stored[name], have.origin == .runtime || have == limits { continue }
                try await worker.client.setLimits(limits, for: name)
            }
        } catch {
            worker.logger.warning("cannot publish the declared task limits", metadata: ["error": "\(error)"])
            return false
        }
        return true
    }

    func run() async {
        while worker.isRunning {
            await sync()
            await worker.pause(.seconds(1))
        }
    }

    /// Copies the definitions into every served queue when their version moved.
    func sync() async {
        let keys = worker.kale.keys
        do {
            let version = try await worker.redis.send("GET", keys.limitsVersion).string.flatMap { Int($0) } ?? 0
            guard version != copied.withLock({ $0 }) else { return }
            let specs = try await worker.client.limits().sorted { $0.key < $1.key }.map { (name: $0.key, spec: $0.value.spec) }
            for queue in worker.configuration.queues.map(\.name) {
                if try await worker.broker.syncLimits(queue: queue, version: version, specs: specs) {
                    worker.logger.info("task limits updated", metadata: ["queue": "\(queue)", "limits.version": "\(version)", "limits": "\(specs.count)"])
                }
            }
            copied.withLock { $0 = version }
        } catch {
            // The fetch loop reports outages; the copy already in Redis keeps applying.
        }
    }
}
