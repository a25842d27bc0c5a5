/// The buckets of Kale's run- and wait-time histograms, shared by the Redis history (the
/// scripts' `kale_bounds`) and the Prometheus histograms, so a chart and a scrape agree.
///
/// 18 upper bounds from 5 ms to 60 min, then +Inf: wide enough for a thumbnail and a
/// nightly report alike, few enough that a minute of history stays a small listpack hash.
public enum HistoryBuckets {
    /// The upper bounds in milliseconds (the Lua copy must stay equal: a test compares them).
    public static let boundsMs: [Int64] = [
        5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
        120_000, 300_000, 600_000, 1_800_000, 3_600_000,
    ]
    /// The upper bounds; the last bucket (index `bounds.count`) has none.
    public static let bounds: [Duration] = boundsMs.map { .milliseconds($0) }
    /// Buckets in all, +Inf included.
    public static var count: Int { boundsMs.count + 1 }

    /// The `p` quantile (0…1) of counts per bucket, interpolated linearly inside its bucket
    /// as Prometheus' `histogram_quantile` does; nil when there are no counts. A quantile in
    /// the +Inf bucket is reported as the largest bound.
    public static func quantile(_ p: Double, of counts: [Int]) -> Duration? {
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = min(max(p, 0), 1) * Double(total)
        var below = 0
        for (i, n) in counts.enumerated() where n > 0 {
            if Double(below + n) >= rank {
                guard i < boundsMs.count else { return bounds.last }
                let lower = i == 0 ? 0 : Double(boundsMs[i - 1])
                let upper = Double(boundsMs[i])
                let ms = lower + (upper - lower) * max(rank - Double(below), 0) / Double(n)
                return .microseconds(Int64((ms * 1000).rounded()))
            }
            below += n
        }
        return bounds.last
    }
}
