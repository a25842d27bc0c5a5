package import Foundation
import KaleRedis

/// How times and durations read in plain output and JSON.
package enum Format {
    /// `2025-05-01T12:00:00.123Z`, the JSON form of every time.
    package static func iso(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// `850ms`, `12.3s`, `4m05s`, `2h03m`: short, for tables.
    package static func duration(_ seconds: Double) -> String {
        let s = max(seconds, 0)
        if s < 1 { return "\(Int((s * 1000).rounded()))ms" }
        if s < 60 { return String(format: "%.1fs", s) }
        let whole = Int(s.rounded())
        if whole < 3600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
        if whole < 86_400 { return String(format: "%dh%02dm", whole / 3600, whole % 3600 / 60) }
        return String(format: "%dd%02dh", whole / 86_400, whole % 86_400 / 3600)
    }

    /// How far `date` is from now: `12.3s ago`, or `in 4m05s` for a time still to come.
    package static func relative(_ date: Date, now: Date = Date()) -> String {
        let seconds = now.timeIntervalSince(date)
        return seconds >= 0 ? duration(seconds) + " ago" : "in " + duration(-seconds)
    }

    /// A `Duration` as the CLI accepts it back (`250ms`, `30s`, `1.5s`, `5m`, `2h`).
    package static func duration(_ d: Duration) -> String {
        let ms = d.milliseconds
        if ms < 1000 { return "\(ms)ms" }
        if ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return String(format: "%.3gs", Double(ms) / 1000)
    }

    /// `text` cut to `width` characters with an ellipsis, for table cells.
    package static func clip(_ text: String, _ width: Int) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count <= width ? flat : String(flat.prefix(max(width - 1, 0))) + "…"
    }
}
