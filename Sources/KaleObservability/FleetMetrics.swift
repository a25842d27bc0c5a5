public import Kale
import KaleRedis
import Prometheus

/// The fleet-wide gauges read from Redis at each scrape of the dashboard's `/metrics`: queue
/// depths by state and priority, the oldest pending task's age, workers online.
///
/// Every figure is O(1) per queue (`LLEN`, `ZCARD`, `LINDEX`), so a scrape costs the same with
/// a million tasks queued. A fresh registry per scrape: a queue that disappears leaves no stale
/// series behind.
public enum FleetMetrics {
    /// Renders the gauges in the Prometheus text format.
    /// - Throws: ``RedisError``.
    public static func render(client: KaleClient, now: Int64 = Broker.now()) async throws -> String {
        let stats = try await client.stats(now: now)
        let keys = client.configuration.keys
        // The oldest pending task of each queue is at the tail of one of its lists (producers
        // LPUSH, workers RPOP): the tail of each, then their enqueue times.
        let tails = try await client.redis.pipeline(stats.flatMap { s in
            keys.pendingLists(s.queue).map { RedisCommand("LINDEX", $0, -1) }
        })
        var lookups: [(queue: String, command: RedisCommand)] = []
        for (i, s) in stats.enumerated() {
            for p in 0..<3 {
                if let id = tails[i * 3 + p].string {
                    lookups.append((s.queue, RedisCommand("HMGET", keys.task(s.queue, id), "enqueued_at", "ready_at")))
                }
            }
        }
        let times = lookups.isEmpty ? [] : try await client.redis.pipeline(lookups.map(\.command))
        var oldest: [String: Int64] = [:]
        for (lookup, reply) in zip(lookups, times) {
            let values = (reply.array ?? []).map { Int64($0.string ?? "") ?? 0 }
            let since = values.max() ?? 0
            guard since > 0 else { continue }
            oldest[lookup.queue] = min(oldest[lookup.queue] ?? .max, since)
        }
        let workers = try await client.workers()

        let registry = PrometheusCollectorRegistry()
        func gauge(_ name: String, unit: String = "", _ help: String, _ labels: [(String, String)] = []) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "kale", metricName: name, unitName: unit, helpText: help),
                               labels: labels)
        }
        for s in stats {
            let depth = [("pending", s.pendingTotal), ("scheduled", s.scheduled), ("running", s.active), ("dead", s.dead)]
            for (state, n) in depth {
                gauge("queue_tasks", "Tasks of a queue by state.", [("queue", s.queue), ("state", state)]).set(Int64(n))
            }
            for p in Priority.allCases {
                gauge("queue_pending_tasks", "Pending tasks of a queue by priority.", [("queue", s.queue), ("priority", p.rawValue)])
                    .set(Int64(s.pending[p] ?? 0))
            }
            let age = oldest[s.queue].map { Double(max(now - $0, 0)) / 1000 } ?? 0
            gauge("queue_oldest_pending_age", unit: "seconds", "How long the oldest pending task of a queue has waited (0: none).",
                  [("queue", s.queue)]).set(age)
        }
        gauge("workers_online", "Workers with a live heartbeat.").set(Int64(workers.count))
        gauge("worker_slots", "Runner slots of live workers.", [("state", "busy")]).set(Int64(workers.reduce(0) { $0 + $1.running.count }))
        gauge("worker_slots", "Runner slots of live workers.", [("state", "total")]).set(Int64(workers.reduce(0) { $0 + $1.concurrency }))
        return registry.emitToString()
    }
}
