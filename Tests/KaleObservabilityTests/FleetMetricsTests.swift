import Foundation
import Kale
import KaleObservability
import KaleRedis
import KaleTestSupport
import Testing

@Suite struct FleetMetricsTests {
    /// `name{labels} value` lines of an exposition, by `name{labels}`.
    static func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = v
        }
        return out
    }

    @Test func gaugesMatchTheQueuesInRedis() async throws {
        let f = KaleFixture()
        var high = EnqueueOptions()
        high.queue = "fleet-a"
        high.priority = .high
        for _ in 0..<3 { _ = try await f.client.enqueue(name: "t", args: .null, options: high) }
        var low = high
        low.priority = .low
        _ = try await f.client.enqueue(name: "t", args: .null, options: low)
        var later = EnqueueOptions()
        later.queue = "fleet-b"
        later.delay = .seconds(600)
        for _ in 0..<2 { _ = try await f.client.enqueue(name: "t", args: .null, options: later) }
        try await Task.sleep(for: .milliseconds(1100))

        let text = try await FleetMetrics.render(client: f.client)
        let s = Self.samples(text)
        for q in ["fleet-a", "fleet-b"] {
            let llen = try await f.redis.pipeline(f.keys.pendingLists(q).map { RedisCommand("LLEN", $0) }).compactMap(\.int).reduce(0, +)
            #expect(s["kale_queue_tasks{queue=\"\(q)\",state=\"pending\"}"] == Double(llen))
            let zcard = try await f.redis.send("ZCARD", f.keys.scheduled(q)).int ?? -1
            #expect(s["kale_queue_tasks{queue=\"\(q)\",state=\"scheduled\"}"] == Double(zcard))
        }
        #expect(s["kale_queue_pending_tasks{queue=\"fleet-a\",priority=\"high\"}"] == 3)
        #expect(s["kale_queue_pending_tasks{queue=\"fleet-a\",priority=\"low\"}"] == 1)
        let age = try #require(s["kale_queue_oldest_pending_age_seconds{queue=\"fleet-a\"}"])
        #expect(age >= 1 && age < 60, "the oldest pending task waited about a second: \(age)")
        #expect(s["kale_queue_oldest_pending_age_seconds{queue=\"fleet-b\"}"] == 0)
        #expect(s["kale_workers_online"] == 0)
        #expect(text.contains("# TYPE kale_queue_tasks gauge"))
    }
}
