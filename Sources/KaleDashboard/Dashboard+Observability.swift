import Foundation
import Hummingbird
import Kale
import KaleCLI
import KaleObservability

// What the dashboard shows of the workers' observability (decision 0020): the history
// buckets, the event streams, each worker's children, and the fleet gauges.
extension Dashboard {
    /// The overview's charts and percentile table.
    func charts(_ queues: [String]) async throws -> HTML {
        HistoryView(queues: try await history.history(of: queues)).render()
    }

    /// The overview's "Recent events" panel: the newest 20 at load; the live script adds the
    /// ones that follow (``LiveFeed``).
    func recentEvents() async throws -> HTML {
        let events = try await client.events(last: 20).reversed()
        var html = HTML(raw: "<section class=\"panel\"><h2>Recent events</h2>")
        html += Layout.table(["Time", "Queue", "Event", "Task", "Name", "Attempt", "Worker", "Detail"], rows: events.map { e in
            var row = HTML(raw: "<tr") + .attr("data-id", e.id) + .attr("data-event", e.kind) + .attr("data-task", e.taskID ?? "")
                + HTML(raw: ">")
            row += Layout.cell(Format.iso(e.time), .attr("class", "when")) + Layout.cell(e.queue ?? "")
            row += Layout.cell(e.kind)
            row += e.taskID.map { Layout.linkCell($0, href: Layout.taskHref($0, queue: e.queue ?? ""), id: true) } ?? Layout.cell("")
            row += Layout.cell(e.name ?? "") + Layout.cell(e.attempt.map(String.init) ?? "") + Layout.cell(e.worker ?? "")
            return row + Layout.cell(e.detail ?? (e.pid.map { "pid \($0)" } ?? "")) + HTML(raw: "</tr>")
        }, id: "recent-events")
        return html + HTML(raw: "<p class=\"note\">Newest first; live while this page is open (at most 50 a second are shown).</p></section>")
    }

    /// `history` in `/api/overview`.
    func historyJSON(_ queues: [String]) async throws -> JSONValue {
        HistoryView(queues: try await history.history(of: queues)).json
    }

    /// The task page's events panel: this task's events among the newest 2,000 of its queue.
    func eventsSection(for info: TaskInfo) async throws -> HTML {
        let events = try await client.events(for: info.id, queue: info.queue)
        var html = HTML(raw: "<section class=\"panel\"><h2>Events</h2>")
        guard !events.isEmpty else {
            return html + HTML(raw: "<p class=\"note\">None in the queue's event stream (it keeps the newest entries only; off with KALE_EVENTS=off).</p></section>")
        }
        html += Layout.table(["Time", "Event", "Attempt", "Worker", "Detail"], rows: events.map { e in
            HTML(raw: "<tr") + .attr("data-event", e.kind) + HTML(raw: ">") + Layout.cell(Format.iso(e.time), .attr("class", "when"))
                + Layout.cell(e.kind) + Layout.cell(e.attempt.map(String.init) ?? "") + Layout.cell(e.worker ?? "")
                + Layout.cell(e.detail ?? "") + HTML(raw: "</tr>")
        }, id: "events")
        return html + HTML(raw: "</section>")
    }

    /// `GET /api/events?queue=&count=` (newest `count`, at most 1,000, oldest first) or
    /// `?task=&queue=` (one task's).
    func eventsJSON(_ query: FormFields) async throws -> [JSONValue] {
        if let q = query["queue"], !Keys.isValidQueueName(q) { throw BadRequest("'\(q)' is not a valid queue name") }
        if let task = query["task"] {
            guard let q = query["queue"] else { throw BadRequest("task needs queue") }
            return try await client.events(for: task, queue: q).map(\.json)
        }
        let count = min(max(Int(query["count"] ?? "") ?? 100, 1), 1000)
        return try await client.events(queues: query["queue"].map { [$0] }, last: count).map(\.json)
    }

    /// A worker's children (pid, RSS, uptime, task) and its recent child deaths.
    static func workerDetails(_ w: WorkerInfo) -> HTML {
        var html = HTML(raw: "<h3>Children</h3>")
        if w.children.isEmpty {
            html += HTML(raw: "<p class=\"note\">") + .text(w.pool == "inline" ? "Inline pool: tasks run in the worker's process." : "None reported.") + HTML(raw: "</p>")
        } else {
            html += Layout.table(["Slot", "Pid", "RSS", "Uptime", "Tasks run", "Task"], rows: w.children.map { childRow($0, of: w) })
        }
        html += HTML(raw: "<h3>Recent child deaths</h3>")
        guard !w.recentDeaths.isEmpty else { return html + HTML(raw: "<p class=\"note\">None.</p>") }
        return html + Layout.table(["When", "Slot", "Pid", "Cause", "Task"], rows: w.recentDeaths.map { d in
            HTML(raw: "<tr>") + Layout.cell(d.at.map { Format.relative($0) } ?? "?") + Layout.cell(String(d.slot)) + Layout.cell(String(d.pid))
                + Layout.cell(d.cause) + Layout.cell(d.taskID ?? "") + HTML(raw: "</tr>")
        })
    }

    private static func childRow(_ c: WorkerInfo.ChildInfo, of w: WorkerInfo) -> HTML {
        var row = HTML(raw: "<tr>") + Layout.cell(String(c.slot)) + Layout.cell(String(c.pid))
        row += Layout.cell(String(format: "%.1f MiB", Double(c.rssBytes) / 1_048_576), .attr("class", "num"))
        row += Layout.cell(c.startedAt.map { Format.duration(Date().timeIntervalSince($0)) } ?? "?")
        row += Layout.cell(String(c.tasksRun), .attr("class", "num"))
        if let id = c.taskID {
            let queue = w.running.first { $0.id == id }?.queue ?? ""
            row += Layout.linkCell(id, href: Layout.taskHref(id, queue: queue), id: true)
        } else {
            row += Layout.cell("idle")
        }
        return row + HTML(raw: "</tr>")
    }

    /// `GET /metrics`: the fleet gauges (``FleetMetrics``) in Prometheus' text format.
    func metrics() async throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: try await FleetMetrics.render(client: client))))
    }
}
