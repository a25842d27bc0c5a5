import ArgumentParser
import Foundation
import KaleRedis
import KaleTestSupport

/// One reported figure: our runs beside the reference's runs, compared by their medians.
struct Figure: Encodable {
    /// What was measured, e.g. "one at a time, RedisClient (pool 4)".
    let name: String
    /// "ops/s" (higher is better) or "µs" (lower is better).
    let unit: String
    /// One value per run.
    let ours: [Double]
    /// What it is compared with, e.g. "redis-benchmark -c 1"; nil when there is nothing to compare.
    let reference: String?
    let referenceRuns: [Double]?
    /// The lowest acceptable ours / reference ratio, from the issue.
    let target: Double?

    var oursMedian: Double { median(ours) }
    var referenceMedian: Double? { referenceRuns.map(median) }
    /// Median of the per-run ratios ours / reference. Each run pairs ours with the reference
    /// measured right after it; on a shared 2-core machine the load drifts between runs, and
    /// pairing cancels most of that drift where a ratio of two medians would not.
    var ratio: Double? {
        guard let referenceRuns, referenceRuns.count == ours.count, referenceRuns.allSatisfy({ $0 > 0 }) else { return nil }
        return median(zip(ours, referenceRuns).map { $0 / $1 })
    }
    var met: Bool? {
        guard let target, let ratio else { return nil }
        return ratio >= target
    }

    private enum CodingKeys: String, CodingKey {
        case name, unit, ours, reference, referenceRuns, target, oursMedian, referenceMedian, ratio, met
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(unit, forKey: .unit)
        try c.encode(ours, forKey: .ours)
        try c.encode(oursMedian, forKey: .oursMedian)
        try c.encodeIfPresent(reference, forKey: .reference)
        try c.encodeIfPresent(referenceRuns, forKey: .referenceRuns)
        try c.encodeIfPresent(referenceMedian, forKey: .referenceMedian)
        try c.encodeIfPresent(ratio, forKey: .ratio)
        try c.encodeIfPresent(target, forKey: .target)
        try c.encodeIfPresent(met, forKey: .met)
    }
}

/// The middle value (mean of the two middle ones for an even count).
func median(_ values: [Double]) -> Double {
    precondition(!values.isEmpty, "median of nothing")
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// The value below which `fraction` of the sorted samples lie (nearest rank).
func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    precondition(!sorted.isEmpty, "percentile of nothing")
    let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

/// The figures as an aligned text table.
func table(_ figures: [Figure], title: String) -> String {
    func number(_ v: Double, _ unit: String) -> String {
        unit == "ops/s" ? String(format: "%.0f", v) : String(format: "%.1f", v)
    }
    let header = ["figure", "unit", "ours", "reference", "ref value", "ratio", "target", ""]
    var rows: [[String]] = [header]
    for f in figures {
        rows.append([
            f.name, f.unit, number(f.oursMedian, f.unit), f.reference ?? "",
            f.referenceMedian.map { number($0, f.unit) } ?? "",
            f.ratio.map { String(format: "%.2f", $0) } ?? "",
            f.target.map { "≥ \(String(format: "%.2f", $0))" } ?? "",
            f.met.map { $0 ? "ok" : "MISSED" } ?? "",
        ])
    }
    return aligned(rows, numeric: [2, 4, 5], title: title)
}

/// `rows` (the first is the header, underlined) in columns under `title`; the columns in
/// `numeric` are right-aligned so that their digits line up.
func aligned(_ rows: [[String]], numeric: Set<Int>, title: String) -> String {
    let widths = (0..<rows[0].count).map { col in rows.map { $0[col].count }.max() ?? 0 }
    var lines = [title]
    for (i, row) in rows.enumerated() {
        let cells = row.enumerated().map { col, cell in
            let pad = String(repeating: " ", count: widths[col] - cell.count)
            return numeric.contains(col) ? pad + cell : cell + pad
        }
        lines.append(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        if i == 0 { lines.append(String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))) }
    }
    return lines.joined(separator: "\n")
}

/// The options both subcommands take: where to measure, how often, how to print.
struct BenchOptions: ParsableArguments {
    @Option(help: "Redis URL to measure against. Default: start a private redis-server on a free loopback port.")
    var redis: String?

    @Option(help: "Runs per figure (the median is reported).")
    var runs = 3

    @Flag(help: "Print the figures as JSON on stdout; the table then goes to stderr.")
    var json = false

    @Option(name: .customLong("redis-benchmark"), help: "Path of redis-benchmark. Default: found on PATH.")
    var redisBenchmark: String?

    func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1 (3 or more for a median worth reading)") }
    }

    /// The server to measure (a private one started unless `--redis` names one; the caller
    /// kills it) and the reference tool pointed at it.
    func start() async throws -> (url: RedisURL, owned: RedisServer?, tool: RedisBenchmarkTool) {
        if let redis {
            let url = try RedisURL(parsing: redis)
            return (url, nil, try RedisBenchmarkTool(path: redisBenchmark, url: url))
        }
        let server = try await onThread { try RedisServer() }
        do { return (server.url, server, try RedisBenchmarkTool(path: redisBenchmark, url: server.url)) }
        catch {
            server.kill()
            throw error
        }
    }
}

/// Prints the table, or with `json` the figures as JSON on stdout and the table on stderr.
func emit(_ figures: [Figure], title: String, json: Bool) throws {
    try emit(figures, text: table(figures, title: title), json: json)
}

/// Prints `text`, or with `json` the figures as JSON on stdout and `text` on stderr.
func emit(_ figures: [Figure], text: String, json: Bool) throws {
    guard json else {
        print(text)
        return
    }
    FileHandle.standardError.write(Data((text + "\n").utf8))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(figures), as: UTF8.self))
}
