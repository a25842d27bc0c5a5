import Foundation
import Kale
import KaleCLI

/// `/workers`: every live worker, its running tasks with their progress.
enum WorkersPage {
    static func render(_ workers: [WorkerInfo], page: PageContext, extra: (WorkerInfo) -> HTML = { _ in HTML(raw: "") }) -> HTML {
        var body = HTML(raw: "<p class=\"summary\">Workers online: <span data-workers-online") + .attr("data-count", String(workers.count))
            + HTML(raw: ">") + .text(String(workers.count)) + HTML(raw: "</span></p>")
        if workers.isEmpty { body += HTML(raw: "<p class=\"note\">No live workers.</p>") }
        for w in workers {
            body += HTML(raw: "<section class=\"panel worker\"") + .attr("data-worker", w.id) + HTML(raw: "><h2>") + .text(w.id) + HTML(raw: "</h2>")
            let uptime = w.startedAt.map { Format.duration(Date().timeIntervalSince($0)) } ?? "?"
            body += Layout.table(["Host", "Pid", "Version", "Queues", "Pool", "Concurrency", "State", "Uptime", "Last heartbeat"], rows: [
                HTML(raw: "<tr>") + Layout.cell(w.host) + Layout.cell(String(w.pid)) + Layout.cell(w.version) + Layout.cell(w.queues)
                    + Layout.cell(w.pool) + Layout.cell(String(w.concurrency)) + Layout.cell(w.state) + Layout.cell(uptime)
                    + Layout.cell(w.lastHeartbeat.map { Format.relative($0) } ?? "?") + HTML(raw: "</tr>"),
            ])
            body += HTML(raw: "<h3>Running</h3>")
            if w.running.isEmpty {
                body += HTML(raw: "<p class=\"note\">Idle.</p>")
            } else {
                body += Layout.table(["Task", "Name", "Queue", "Attempt", "Running for", "Progress"], rows: w.running.map { r in
                    HTML(raw: "<tr>") + Layout.linkCell(r.id, href: Layout.taskHref(r.id, queue: r.queue)) + Layout.cell(r.name)
                        + Layout.cell(r.queue) + Layout.cell(String(r.attempt))
                        + Layout.cell(r.startedAt.map { Format.duration(Date().timeIntervalSince($0)) } ?? "?")
                        + HTML(raw: "<td><progress max=\"1\"") + .attr("data-running", r.id) + (r.progress.map { HTML.attr("value", String($0)) } ?? HTML(raw: ""))
                        + HTML(raw: "></progress></td></tr>")
                })
            }
            body += extra(w) + HTML(raw: "</section>")
        }
        body += HTML(raw: "<p class=\"note\">As of each worker's last heartbeat (every third of its lease).</p>")
        return Layout.page(title: "Workers", page: page, active: "Workers", live: "/live", body: body)
    }
}
