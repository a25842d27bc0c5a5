import Foundation
import Testing
@testable import Kale

@Suite struct HistoryBucketsTests {
    @Test func luaBoundsMatchTheSwiftBounds() {
        // The scripts bucket durations themselves; the dashboard and Prometheus read the
        // buckets by HistoryBuckets. A drift would shift every chart by a bucket.
        let lua = LuaLibrary.source
        let start = lua.range(of: "local kale_bounds = {")!.upperBound
        let end = lua[start...].range(of: "}")!.lowerBound
        let values = lua[start..<end].split(whereSeparator: { $0 == "," || $0.isWhitespace }).compactMap { Int64($0) }
        #expect(values == HistoryBuckets.boundsMs)
    }

    @Test func quantileInterpolatesInsideItsBucket() {
        var counts = Array(repeating: 0, count: HistoryBuckets.count)
        counts[1] = 10  // (5, 10] ms
        #expect(HistoryBuckets.quantile(0.5, of: counts) == .milliseconds(7.5))
        #expect(HistoryBuckets.quantile(1, of: counts) == .milliseconds(10))
        counts[HistoryBuckets.count - 1] = 90
        #expect(HistoryBuckets.quantile(0.99, of: counts) == HistoryBuckets.bounds.last)
        #expect(HistoryBuckets.quantile(0.5, of: Array(repeating: 0, count: HistoryBuckets.count)) == nil)
    }

    @Test func coarsenedPointsEndWithTheNewestMinute() {
        let minutes = (0..<20).map { QueueHistory.Minute(start: Date(timeIntervalSince1970: Double($0) * 60), counts: ["succeeded": 1]) }
        let points = QueueHistory(queue: "q", minutes: minutes).coarsened(by: 15)
        #expect(points.map { $0.counts["succeeded"] } == [5, 15])
        #expect(points.last?.start == minutes[5].start)
    }
}
