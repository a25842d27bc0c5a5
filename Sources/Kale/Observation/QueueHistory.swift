public import Foundation

/// A queue's recent history, one entry per minute: what the dashboard charts.
///
/// Written by the transition scripts into ``Keys/history(_:minute:)`` hashes (kept 25 h)
/// and read by ``KaleClient/history(of:last:now:)``.
public struct QueueHistory: Sendable, Hashable {
    /// Which histogram of a minute.
    public enum Metric: Sendable, Hashable {
        /// From a run's start to its end.
        case run
        /// From when a task could first run (enqueued, or its delay passed) to its first start.
        case wait
    }

    /// One minute of a queue.
    public struct Minute: Sendable, Hashable {
        /// The minute's first instant.
        public var start: Date
        /// Transitions by kind: `enqueued`, `succeeded`, `failed`, `retried`, `dead`,
        /// `cancelled`, `expired`, `reaped`, `deferred` (held back by a rate limit or a
        /// concurrency cap); absent kinds are 0.
        public var counts: [String: Int]
        /// Runs ended in the minute per ``HistoryBuckets`` bucket.
        public var run: [Int]
        /// First starts in the minute per ``HistoryBuckets`` bucket.
        public var wait: [Int]

        public init(start: Date, counts: [String: Int] = [:], run: [Int] = [], wait: [Int] = []) {
            self.start = start
            self.counts = counts
            self.run = run.isEmpty ? Array(repeating: 0, count: HistoryBuckets.count) : run
            self.wait = wait.isEmpty ? Array(repeating: 0, count: HistoryBuckets.count) : wait
        }

        /// Builds a minute from the `HGETALL` of its hash, whose fields are
        /// `<kind>:<run bucket>:<wait bucket>` (a bucket empty when not measured).
        init(start: Date, fields: [String: String]) {
            self.init(start: start)
            for (field, value) in fields {
                let parts = field.split(separator: ":", omittingEmptySubsequences: false)
                guard let n = Int(value), parts.count == 3, !parts[0].isEmpty else { continue }
                counts[String(parts[0]), default: 0] += n
                if let r = Minute.bucket(parts[1]) { run[r] += n }
                if let w = Minute.bucket(parts[2]) { wait[w] += n }
            }
        }

        private static func bucket(_ text: Substring) -> Int? {
            guard let i = Int(text), i >= 0, i < HistoryBuckets.count else { return nil }
            return i
        }
    }

    public var queue: String
    /// Oldest first, one per minute, minutes with nothing recorded included (all zero).
    public var minutes: [Minute]

    public init(queue: String, minutes: [Minute]) {
        self.queue = queue
        self.minutes = minutes
    }

    /// The minutes that began within `last` of the newest one's end.
    public func minutes(last: Duration) -> ArraySlice<Minute> {
        minutes.suffix(max(Int(last.components.seconds / 60), 1))
    }

    /// How many `kind` transitions the last `last` saw.
    public func total(_ kind: String, last: Duration) -> Int {
        minutes(last: last).reduce(0) { $0 + ($1.counts[kind] ?? 0) }
    }

    /// The `p` quantile (0…1) of `metric` over the last `last`; nil with no samples.
    public func percentile(_ p: Double, of metric: Metric, last: Duration) -> Duration? {
        var sum = Array(repeating: 0, count: HistoryBuckets.count)
        for m in minutes(last: last) {
            let buckets = metric == .run ? m.run : m.wait
            for i in sum.indices { sum[i] += buckets[i] }
        }
        return HistoryBuckets.quantile(p, of: sum)
    }

    /// Sums runs of `size` minutes into one point each (the day chart's 15-minute points),
    /// aligned so the newest point ends with the newest minute.
    public func coarsened(by size: Int) -> [Minute] {
        guard size > 1 else { return minutes }
        var out: [Minute] = []
        var i = minutes.count % size == 0 ? 0 : -(size - minutes.count % size)
        while i < minutes.count {
            let group = minutes[max(i, 0)..<min(i + size, minutes.count)]
            var point = Minute(start: group.first!.start)
            for m in group {
                point.counts.merge(m.counts, uniquingKeysWith: +)
                for b in point.run.indices { point.run[b] += m.run[b]; point.wait[b] += m.wait[b] }
            }
            out.append(point)
            i += size
        }
        return out
    }
}
