import Foundation
import Kale
import KaleCLI

/// `/dead`: search the dead sets; retry or purge one, a selection, or every match.
enum DeadPage {
    static let pageSize = 50

    static func render(_ result: DeadSearchResult, query: DeadQuery, offset: Int, notice: Notice?, page: PageContext) -> HTML {
        var body = HTML(raw: "")
        if let notice { body += HTML(raw: "<p class=\"notice\" id=\"notice\">") + .text(notice.text) + HTML(raw: "</p>") }
        body += HTML(raw: "<section class=\"panel\"><form method=\"get\" action=\"/dead\" class=\"filter\" id=\"dead-search\">")
        for (name, label, value) in [("name", "Task name", query.name), ("type", "Error type", query.errorType),
                                     ("text", "Error text", query.text), ("queue", "Queue", query.queue)] {
            body += HTML(raw: "<label>") + .text(label) + HTML(raw: " <input type=\"search\"") + .attr("name", name) + .attr("value", value ?? "")
                + HTML(raw: "></label> ")
        }
        body += HTML(raw: "<button type=\"submit\">Search</button></form>")
        var summary = "\(result.matches.count) dead task\(result.matches.count == 1 ? "" : "s")"
            + (query.matchesEverything ? "" : " match") + " (\(result.examined) examined)"
        if result.truncated { summary += "; only the newest 10,000 of each dead set are searched" }
        body += HTML(raw: "<p class=\"summary\" id=\"dead-summary\">") + .text(summary) + HTML(raw: "</p>")
        let shown = Array(result.matches.dropFirst(offset).prefix(pageSize))
        let back = "/dead" + (page.path.firstIndex(of: "?").map { String(page.path[$0...]) } ?? "")
        let canAct = page.canAct
        if let note = page.actionNote { body += note }
        if canAct {
            body += HTML(raw: "<form method=\"post\" action=\"/api/dead/retry\" id=\"dead-form\">") + page.csrfField
                + HTML(raw: "<input type=\"hidden\" name=\"back\"") + .attr("value", back) + HTML(raw: ">")
        }
        let headers = (canAct ? [""] : []) + ["Id", "Queue", "Name", "Died", "Attempts", "Error type", "Error"] + (canAct ? [""] : [])
        let rows = shown.map { t in
            let ref = t.queue + "/" + t.id
            var r = HTML(raw: "<tr") + .attr("data-task", t.id) + HTML(raw: ">")
            if canAct { r += HTML(raw: "<td><input type=\"checkbox\" name=\"task\"") + .attr("value", ref) + HTML(raw: "></td>") }
            r += Layout.linkCell(t.id, href: Layout.taskHref(t.id, queue: t.queue), id: true) + Layout.cell(t.queue) + Layout.cell(t.name)
                + Layout.cell(Format.relative(t.diedAt), .attr("class", "when")) + Layout.cell(String(t.attempts), .attr("class", "num"))
                + Layout.cell(t.error?.type ?? "") + Layout.cell(t.error.map { Format.clip($0.message, 200) } ?? "", .attr("class", "error-text"))
            if canAct {
                r += HTML(raw: "<td class=\"row-actions\"><button type=\"submit\" class=\"action\" name=\"one\"") + .attr("value", ref)
                    + HTML(raw: ">Retry</button> <button type=\"submit\" class=\"danger\" formaction=\"/api/dead/purge\" name=\"one\"")
                    + .attr("value", ref) + HTML(raw: ">Purge</button></td>")
            }
            return r + HTML(raw: "</tr>")
        }
        body += Layout.table(headers, rows: rows, id: "dead")
        if canAct {
            body += HTML(raw: "<p class=\"actions\"><button type=\"submit\" class=\"action\">Retry selected</button> ")
                + HTML(raw: "<button type=\"submit\" class=\"danger\" formaction=\"/api/dead/purge\">Purge selected</button></p></form>")
            body += allMatching(query, count: result.matches.count, back: back, page: page)
        }
        body += pager(result.matches.count, offset: offset, query: query)
        return Layout.page(title: "Dead set", page: page, active: "Dead set", body: body + HTML(raw: "</section>"))
    }

    /// Buttons acting on every match: the filter is sent again and re-run when the action runs.
    private static func allMatching(_ q: DeadQuery, count: Int, back: String, page: PageContext) -> HTML {
        guard count > 0 else { return HTML(raw: "") }
        let fields = [("all", "1"), ("name", q.name ?? ""), ("type", q.errorType ?? ""), ("text", q.text ?? ""),
                      ("queue", q.queue ?? ""), ("back", back)]
        return HTML(raw: "<div class=\"actions all\">") + page.button("Retry all \(count) matching", action: "/api/dead/retry", fields: fields)
            + page.button("Purge all \(count) matching", action: "/api/dead/purge", fields: fields, danger: true) + HTML(raw: "</div>")
    }

    private static func pager(_ total: Int, offset: Int, query q: DeadQuery) -> HTML {
        func link(_ o: Int, _ label: String) -> HTML {
            var href = "/dead?offset=\(o)"
            for (k, v) in [("name", q.name), ("type", q.errorType), ("text", q.text), ("queue", q.queue)] {
                if let v, !v.isEmpty { href += "&" + k + "=" + FormFields.encode(v) }
            }
            return HTML(raw: "<a") + .attr("href", href) + HTML(raw: ">") + .text(label) + HTML(raw: "</a> ")
        }
        var html = HTML(raw: "<p class=\"pager\">")
        if offset > 0 { html += link(max(offset - pageSize, 0), "← previous") }
        // `offset` is at most `total` (the route clamps it): no overflow either way.
        if total - offset > pageSize { html += link(offset + pageSize, "next →") }
        return html + HTML(raw: "</p>")
    }
}
