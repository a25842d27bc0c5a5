import Foundation
import Kale
import KaleCLI

/// `/queues/:q`: one queue's tasks in one state, 50 a page, optionally filtered by name.
enum QueuePage {
    static let pageSize = 50

    static func render(_ listing: TaskListing, stats: QueueStats, page: PageContext) -> HTML {
        let q = listing.queue
        let base = "/queues/" + FormFields.encode(q)
        var body = HTML(raw: "<nav class=\"tabs\">")
        for state in BrowseState.allCases {
            let n = state == .pending ? stats.pendingTotal : state == .scheduled ? stats.scheduled : state == .running ? stats.active : stats.dead
            let dataState = state == .pending ? "pending" : state.rawValue
            body += HTML(raw: "<a") + .attr("href", base + "?state=" + state.rawValue)
                + (state == listing.state ? HTML.attr("class", "active") : HTML(raw: "")) + HTML(raw: ">") + .text(state.rawValue + " ")
                + HTML(raw: "<span") + .attr("data-queue", q) + .attr("data-state", dataState) + .attr("data-count", String(n)) + HTML(raw: ">")
                + .text(String(n)) + HTML(raw: "</span></a>")
        }
        body += HTML(raw: "</nav><section class=\"panel\">")
        body += HTML(raw: "<form method=\"get\" class=\"filter\"") + .attr("action", base) + HTML(raw: ">")
            + HTML(raw: "<input type=\"hidden\" name=\"state\"") + .attr("value", listing.state.rawValue) + HTML(raw: ">")
            + HTML(raw: "<label>Task name contains <input type=\"search\" name=\"name\"") + .attr("value", listing.nameContains ?? "")
            + HTML(raw: "></label> <button type=\"submit\">Filter</button></form>")
        body += HTML(raw: "<p class=\"note\">Pause and resume: not supported by queues yet (issue 15).</p>")
        body += summary(listing)
        let scoreLabel = ["scheduled": "Due", "running": "Lease until", "dead": "Died"][listing.state.rawValue]
        let headers = ["#", "Id", "Name", "State", "Attempts", "Priority", "Enqueued"] + (scoreLabel.map { [$0] } ?? []) + ["Progress / error"]
        let rows = listing.entries.map { e in row(e, queue: q, showScore: scoreLabel != nil) }
        body += Layout.table(headers, rows: rows, id: "tasks")
        body += pager(listing, base: base)
        body += HTML(raw: "</section>")
        return Layout.page(title: "Queue " + q, page: page, live: "/live", body: body)
    }

    private static func summary(_ l: TaskListing) -> HTML {
        var text: String
        if let filter = l.nameContains, !filter.isEmpty {
            text = "\(l.entries.count) matching “\(filter)” among \(l.examined) tasks examined from position \(l.offset) of \(l.total)"
            if l.hitExamineLimit { text += " (stopped at the limit of 5,000 examined per page: “more” continues)" }
        } else if l.entries.isEmpty {
            text = l.total == 0 ? "No \(l.state.rawValue) tasks." : "No tasks at position \(l.offset) (there are \(l.total))."
        } else {
            text = "Tasks \(l.offset + 1)–\(l.offset + l.entries.count) of \(l.total)" + (l.state == .pending ? ", next to run first" : "")
        }
        return HTML(raw: "<p class=\"summary\">") + .text(text) + HTML(raw: "</p>")
    }

    private static func row(_ e: TaskListing.Entry, queue: String, showScore: Bool) -> HTML {
        var r = HTML(raw: "<tr") + .attr("data-task", e.id) + HTML(raw: ">") + Layout.cell(String(e.position + 1), .attr("class", "num"))
        r += Layout.linkCell(e.id, href: Layout.taskHref(e.id, queue: queue), id: true)
        if let t = e.task {
            r += Layout.cell(t.name) + Layout.cell(t.state.rawValue) + Layout.cell("\(t.attempt)/\(t.maxRetries + 1)", .attr("class", "num"))
                + Layout.cell(t.priority.rawValue) + Layout.cell(t.enqueuedAt.map { Format.relative($0) } ?? "")
        } else {
            r += HTML(raw: "<td colspan=\"5\" class=\"note\">record gone</td>")
        }
        if showScore { r += Layout.cell(e.score.map { Format.relative($0) } ?? "") }
        if let p = e.task?.progress {
            r += HTML(raw: "<td><progress max=\"1\"") + .attr("value", String(p)) + HTML(raw: "></progress></td>")
        } else {
            r += Layout.cell(e.task?.error.map { "\($0.type): \(Format.clip($0.message, 120))" } ?? "")
        }
        return r + HTML(raw: "</tr>")
    }

    private static func pager(_ l: TaskListing, base: String) -> HTML {
        func link(_ offset: Int, _ label: String) -> HTML {
            var href = base + "?state=" + l.state.rawValue + "&offset=" + String(offset)
            if let f = l.nameContains, !f.isEmpty { href += "&name=" + FormFields.encode(f) }
            return HTML(raw: "<a") + .attr("href", href) + HTML(raw: ">") + .text(label) + HTML(raw: "</a> ")
        }
        var html = HTML(raw: "<p class=\"pager\">")
        if l.offset > 0 { html += link(l.nameContains == nil ? max(l.offset - pageSize, 0) : 0, l.nameContains == nil ? "← previous" : "← from the start") }
        if let next = l.nextOffset { html += link(next, l.nameContains == nil ? "next →" : "more →") }
        return html + HTML(raw: "</p>")
    }
}
