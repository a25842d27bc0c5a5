import Foundation

/// A line chart as inline SVG, drawn on the server: the page needs no script to show it.
///
/// Values may be nil (no samples in that point, e.g. a percentile of a quiet minute): the line
/// breaks there instead of dropping to zero.
struct Chart {
    struct Series {
        var name: String
        var values: [Double?]
    }

    var title: String
    var series: [Series]
    /// The first point's time and the last's, for the x-axis labels.
    var start: Date
    var end: Date
    /// How a y value reads (`12/min`, `250 ms`).
    var format: (Double) -> String

    static let width = 600.0, height = 170.0, left = 56.0, right = 8.0, top = 10.0, bottom = 22.0

    func render(id: String) -> HTML {
        let maxValue = max(series.flatMap { $0.values.compactMap { $0 } }.max() ?? 0, 1e-9)
        let plotW = Self.width - Self.left - Self.right, plotH = Self.height - Self.top - Self.bottom
        let points = series.map(\.values.count).max() ?? 0
        func x(_ i: Int) -> Double { Self.left + (points > 1 ? Double(i) / Double(points - 1) : 0) * plotW }
        func y(_ v: Double) -> Double { Self.top + plotH - v / maxValue * plotH }
        var svg = HTML(raw: "<figure class=\"chart\"") + .attr("id", id) + HTML(raw: "><figcaption>") + .text(title)
            + HTML(raw: "</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\"") + .attr("viewBox", "0 0 \(Int(Self.width)) \(Int(Self.height))")
            + .attr("aria-label", title) + HTML(raw: ">")
        svg += HTML(raw: "<line class=\"axis\" x1=\"\(Self.left)\" y1=\"\(Self.top + plotH)\" x2=\"\(Self.width - Self.right)\" y2=\"\(Self.top + plotH)\"/>")
        svg += HTML(raw: "<line class=\"axis\" x1=\"\(Self.left)\" y1=\"\(Self.top)\" x2=\"\(Self.left)\" y2=\"\(Self.top + plotH)\"/>")
        if maxValue > 1e-9 { svg += label(format(maxValue), x: Self.left - 4, y: Self.top + 8, anchor: "end") }
        svg += label(format(0), x: Self.left - 4, y: Self.top + plotH, anchor: "end")
        svg += label(Self.clock(start), x: Self.left, y: Self.height - 6, anchor: "start")
        svg += label(Self.clock(end), x: Self.width - Self.right, y: Self.height - 6, anchor: "end")
        if series.allSatisfy({ $0.values.allSatisfy { ($0 ?? 0) == 0 } }) {
            svg += HTML(raw: "<text class=\"empty\" x=\"\(Self.left + plotW / 2)\" y=\"\(Self.top + plotH / 2)\" text-anchor=\"middle\">")
                + .text("nothing recorded in this window") + HTML(raw: "</text>")
        }
        for (n, s) in series.enumerated() {
            // One polyline per unbroken run of values; a lone value (one busy minute among
            // empty ones, as percentiles are) is a dot: a one-point line draws nothing.
            var run: [(x: Double, y: Double)] = []
            func flush() {
                if run.count == 1 {
                    svg += HTML(raw: String(format: "<circle class=\"dot s%d\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>", n + 1, run[0].x, run[0].y))
                } else if !run.isEmpty {
                    let points = run.map { String(format: "%.1f,%.1f", $0.x, $0.y) }.joined(separator: " ")
                    svg += HTML(raw: "<polyline class=\"line s\(n + 1)\" points=\"\(points)\"/>")
                }
                run = []
            }
            for (i, v) in s.values.enumerated() {
                if let v { run.append((x(i), y(v))) } else { flush() }
            }
            flush()
        }
        svg += HTML(raw: "</svg><figcaption class=\"legend\">")
        for (n, s) in series.enumerated() {
            let last = s.values.last(where: { $0 != nil }).flatMap { $0 }
            svg += HTML(raw: "<span class=\"k s\(n + 1)\"></span>") + .text(s.name + (last.map { " (last " + format($0) + ")" } ?? ""))
        }
        return svg + HTML(raw: "</figcaption></figure>")
    }

    private func label(_ text: String, x: Double, y: Double, anchor: String) -> HTML {
        HTML(raw: String(format: "<text x=\"%.1f\" y=\"%.1f\"", x, y) + " text-anchor=\"\(anchor)\">") + .text(text) + HTML(raw: "</text>")
    }

    /// `14:05` in UTC, as every time on the dashboard is.
    static func clock(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.hour, .minute], from: date)
        return String(format: "%02d:%02d UTC", c.hour ?? 0, c.minute ?? 0)
    }

    /// `850 ms`, `12.3 s`, `4.1 min`.
    static func duration(_ ms: Double) -> String {
        if ms < 1000 { return String(format: "%.0f ms", ms) }
        if ms < 60_000 { return String(format: "%.1f s", ms / 1000) }
        return String(format: "%.1f min", ms / 60_000)
    }

    /// `12/min`, `0.4/min`.
    static func rate(_ perMinute: Double) -> String {
        perMinute >= 10 || perMinute == perMinute.rounded() ? String(format: "%.0f/min", perMinute) : String(format: "%.1f/min", perMinute)
    }
}
