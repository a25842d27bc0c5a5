import Foundation
import Kale
import KaleCLI
import KaleRedis

/// The overview's history: throughput and run/wait percentiles over the last hour (per
/// minute) and the last day (per 15 minutes), for the whole fleet and per queue.
struct HistoryView {
    /// Each queue's last 24 h, one entry per minute (``KaleClient/history(of:last:now:)``).
    var queues: [QueueHistory]

    static let hour: Duration = .seconds(3600), day: Duration = .seconds(86_400)
    static let percentiles: [(label: String, p: Double)] = [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)]

    /// Every queue summed, minute by minute (all share the same minutes).
    var fleet: QueueHistory {
        guard var total = queues.first else { return QueueHistory(queue: "*", minutes: []) }
        total.queue = "*"
        for q in queues.dropFirst() {
            for (i, m) in q.minutes.enumerated() where i < total.minutes.count {
                total.minutes[i].counts.merge(m.counts, uniquingKeysWith: +)
                for b in m.run.indices { total.minutes[i].run[b] += m.run[b]; total.minutes[i].wait[b] += m.wait[b] }
            }
        }
        return total
    }

    /// The points of a window: the hour's minutes, or the day's 15-minute sums.
    static func points(_ h: QueueHistory, day: Bool) -> [QueueHistory.Minute] {
        day ? QueueHistory(queue: h.queue, minutes: Array(h.minutes(last: Self.day))).coarsened(by: 15) : Array(h.minutes(last: Self.hour))
    }

    /// Failures that ended a task: dead, and the `failed` of a trimmed dead set.
    static func failed(_ m: QueueHistory.Minute) -> Int { (m.counts["dead"] ?? 0) + (m.counts["failed"] ?? 0) }

    func render() -> HTML {
        let fleet = self.fleet
        var html = HTML(raw: "<section class=\"panel\" id=\"history-panel\"><h2>History (every queue)</h2><div class=\"charts\">")
        for (day, name) in [(false, "hour"), (true, "day")] {
            let points = Self.points(fleet, day: day)
            guard let first = points.first?.start, let last = points.last?.start else { continue }
            let perMinute = day ? 15.0 : 1.0
            let window = day ? "last day, per 15 min" : "last hour, per minute"
            html += Chart(title: "Throughput, \(window)", series: [
                .init(name: "succeeded", values: points.map { Double($0.counts["succeeded"] ?? 0) / perMinute }),
                .init(name: "failed", values: points.map { Double(Self.failed($0)) / perMinute }),
                .init(name: "retried", values: points.map { Double($0.counts["retried"] ?? 0) / perMinute }),
            ], start: first, end: last, format: Chart.rate).render(id: "chart-throughput-\(name)")
            for (metric, label) in [(QueueHistory.Metric.run, "Run time"), (.wait, "Wait time")] {
                html += Chart(title: "\(label), \(window)", series: Self.percentiles.map { pc in
                    .init(name: pc.label, values: points.map { m in
                        HistoryBuckets.quantile(pc.p, of: metric == .run ? m.run : m.wait).map { Double($0.milliseconds) }
                    })
                }, start: first, end: last, format: Chart.duration).render(id: "chart-\(label.lowercased().prefix(4))-\(name)")
            }
        }
        html += HTML(raw: "</div>")
        html += table([fleet] + queues)
        return html + HTML(raw: "<p class=\"note\">From the workers' per-minute history in Redis (kept 25 h; off with KALE_HISTORY=off). Times are UTC.</p></section>")
    }

    private func table(_ rows: [QueueHistory]) -> HTML {
        var headers = ["Queue", "Window", "Succeeded", "Failed", "Retried"]
        for m in ["run", "wait"] { headers += Self.percentiles.map { "\(m) \($0.label)" } }
        var out: [HTML] = []
        for h in rows {
            for (window, last) in [("1 h", Self.hour), ("24 h", Self.day)] {
                var r = HTML(raw: "<tr>") + Layout.cell(h.queue == "*" ? "every queue" : h.queue) + Layout.cell(window)
                for kind in ["succeeded", "failed", "retried"] {
                    let n = kind == "failed" ? h.total("dead", last: last) + h.total("failed", last: last) : h.total(kind, last: last)
                    r += Layout.cell(String(n), .attr("class", "num"))
                }
                for metric in [QueueHistory.Metric.run, .wait] {
                    for pc in Self.percentiles {
                        r += Layout.cell(h.percentile(pc.p, of: metric, last: last).map { Chart.duration(Double($0.milliseconds)) } ?? "–",
                                         .attr("class", "num"))
                    }
                }
                out.append(r + HTML(raw: "</tr>"))
            }
        }
        return Layout.table(headers, rows: out, id: "history")
    }

    /// `history` of `/api/overview`: per queue and for every queue, the windows' totals and
    /// percentiles (ms), and the points (per minute for the hour, per 15 minutes for the day).
    var json: JSONValue {
        func window(_ h: QueueHistory, day: Bool) -> JSONValue {
            let last = day ? Self.day : Self.hour
            var o: [String: JSONValue] = [:]
            for kind in ["enqueued", "succeeded", "failed", "retried", "dead", "cancelled", "expired", "reaped"] {
                o[kind] = .number(Double(h.total(kind, last: last)))
            }
            for (metric, name) in [(QueueHistory.Metric.run, "run_ms"), (.wait, "wait_ms")] {
                var p: [String: JSONValue] = [:]
                for pc in Self.percentiles { if let d = h.percentile(pc.p, of: metric, last: last) { p[pc.label] = .number(Double(d.milliseconds)) } }
                o[name] = .object(p)
            }
            o["points"] = .array(Self.points(h, day: day).map { m in
                .object(["start": .string(Format.iso(m.start)), "succeeded": .number(Double(m.counts["succeeded"] ?? 0)),
                         "failed": .number(Double(Self.failed(m))), "retried": .number(Double(m.counts["retried"] ?? 0))])
            })
            return .object(o)
        }
        return .array(([fleet] + queues).map { h in
            .object(["queue": .string(h.queue), "hour": window(h, day: false), "day": window(h, day: true)])
        })
    }
}
