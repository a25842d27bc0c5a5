import Foundation
import Kale
import KaleCLI

/// `/`: every queue's counts, the charts, the workers online.
enum OverviewPage {
    /// The count cells' `data-state` values, in column order.
    static let columns: [(state: String, label: String)] = [
        ("pending", "Pending"), ("pending.high", "high"), ("pending.normal", "normal"), ("pending.low", "low"),
        ("scheduled", "Scheduled"), ("running", "Running"), ("dead", "Dead"),
    ]

    /// The count of `state` (a ``columns`` value) in `s`.
    static func count(_ s: QueueStats, _ state: String) -> Int {
        switch state {
        case "pending": return s.pendingTotal
        case "scheduled": return s.scheduled
        case "running": return s.active
        case "dead": return s.dead
        default: return Priority(rawValue: String(state.dropFirst("pending.".count))).map { s.pending[$0] ?? 0 } ?? 0
        }
    }

    /// A count cell the live script finds by queue and state.
    static func countCell(_ queue: String, _ state: String, _ n: Int) -> HTML {
        Layout.cell(String(n), .attr("data-queue", queue) + .attr("data-state", state) + .attr("data-count", String(n)) + .attr("class", "num"))
    }

    static func render(_ o: Overview, charts: HTML, page: PageContext) -> HTML {
        var body = HTML(raw: "<section class=\"panel\"><h2>Queues</h2>")
        if o.queues.isEmpty {
            body += HTML(raw: "<p class=\"note\">No queues yet: nothing was enqueued under this prefix.</p>")
        } else {
            let rows = o.queues.map { s in
                var row = HTML(raw: "<tr") + .attr("data-queue-row", s.queue) + HTML(raw: ">")
                // `kale queue pause`: workers lease nothing from it until it is resumed.
                let paused = s.isPaused ? HTML(raw: " <span class=\"badge\" data-paused>paused</span>") : HTML(raw: "")
                row += Layout.linkCell(s.queue, href: "/queues/" + FormFields.encode(s.queue), after: paused)
                for c in columns { row += countCell(s.queue, c.state, count(s, c.state)) }
                row += Layout.cell(String(s.succeededRecently), .attr("class", "num") + .attr("data-queue", s.queue) + .attr("data-state", "succeeded_last_minute"))
                row += Layout.cell(String(s.failedRecently), .attr("class", "num") + .attr("data-queue", s.queue) + .attr("data-state", "failed_last_minute"))
                return row + HTML(raw: "</tr>")
            }
            body += Layout.table(["Queue"] + columns.map(\.label) + ["Done/1m", "Failed/1m"], rows: rows, id: "queues")
        }
        body += HTML(raw: "<p class=\"note\">Running counts the tasks leased by a worker, prefetched ones included.</p>")
        body += HTML(raw: "<p class=\"note\" id=\"new-queues\" hidden></p></section>")
        body += HTML(raw: "<section class=\"panel\"><h2>Workers online: <span data-workers-online")
            + .attr("data-count", String(o.workers.count)) + HTML(raw: ">") + .text(String(o.workers.count))
            + HTML(raw: "</span></h2><p><a href=\"/workers\">Every worker, its children and their tasks</a></p></section>")
        body += charts
        return Layout.page(title: "Overview", page: page, active: "Overview", live: "/live", body: body)
    }
}
