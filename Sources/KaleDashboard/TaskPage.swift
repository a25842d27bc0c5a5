import Foundation
import Kale
import KaleCLI

/// `/tasks/:id`: a task's record, timeline, progress, events, and its retry and cancel buttons.
enum TaskPage {
    /// States a task can be cancelled in.
    static let cancellable: Set<TaskState> = [.pending, .scheduled, .retrying, .started]
    /// States a task can be retried from: the dead set, or a `failed` record trimmed from it.
    static let retryable: Set<TaskState> = [.dead, .failed]

    static func render(_ t: TaskInfo, envelope: Envelope?, events: HTML, page: PageContext) -> HTML {
        var body = HTML(raw: "<section class=\"panel\" id=\"task\"") + .attr("data-task-id", t.id) + .attr("data-queue", t.queue)
            + HTML(raw: "><dl class=\"record\">")
        func item(_ label: String, _ value: String, field: String? = nil) {
            body += HTML(raw: "<dt>") + .text(label) + HTML(raw: "</dt><dd") + (field.map { HTML.attr("data-field", $0) } ?? HTML(raw: ""))
                + HTML(raw: ">") + .text(value) + HTML(raw: "</dd>")
        }
        item("Id", t.id)
        item("Name", t.name, field: "name")
        body += HTML(raw: "<dt>Queue</dt><dd><a") + .attr("href", "/queues/" + FormFields.encode(t.queue)) + HTML(raw: ">") + .text(t.queue)
            + HTML(raw: "</a></dd>")
        item("State", t.state.rawValue, field: "state")
        item("Attempts", String(t.attempt), field: "attempts")
        item("Max retries", String(t.maxRetries), field: "max_retries")
        item("Priority", t.priority.rawValue)
        item("Worker", t.worker ?? "–", field: "worker")
        if let e = envelope {
            if let limit = e.timeLimitMs { item("Time limit", Format.duration(.milliseconds(limit))) }
            if let limit = e.softTimeLimitMs { item("Soft time limit", Format.duration(.milliseconds(limit))) }
            if let u = e.uniqueKey { item("Unique key", u) }
            for (k, v) in e.headers.sorted(by: { $0.key < $1.key }) { item("Header " + k, v) }
            if let w = e.headers["kale-workflow"] {
                body += HTML(raw: "<dt>Workflow</dt><dd><a data-field=\"workflow\"") + .attr("href", "/workflows/" + FormFields.encode(w))
                    + HTML(raw: ">") + .text(w) + HTML(raw: "</a></dd>")
            }
        }
        body += HTML(raw: "</dl>")
        body += HTML(raw: "<p class=\"progress\"><label for=\"task-progress\">Progress</label> <progress id=\"task-progress\" max=\"1\"")
            + (t.progress.map { HTML.attr("value", String($0)) } ?? HTML(raw: "")) + HTML(raw: "></progress> <span data-field=\"progress_message\">")
            + .text(t.progressMessage ?? (t.progress.map { "\(Int(($0 * 100).rounded())) %" } ?? "")) + HTML(raw: "</span></p>")
        body += actions(t, page: page)
        body += HTML(raw: "</section>")
        body += timeline(t, envelope: envelope)
        body += HTML(raw: "<section class=\"panel\"><h2>Arguments</h2><pre class=\"json\" id=\"task-args\">")
            + .text(envelope.map { EncryptedValue.placeholder($0.args) ?? $0.args.jsonString } ?? "(the message could not be decoded)") + HTML(raw: "</pre>")
        if t.state == .succeeded {
            body += HTML(raw: "<h2>Result</h2><pre class=\"json\" id=\"task-result\">") + .text(EncryptedValue.placeholder(t.result ?? .null) ?? (t.result ?? .null).jsonString) + HTML(raw: "</pre>")
        }
        if let error = t.error {
            body += HTML(raw: "<h2>Error</h2><p class=\"error\" id=\"task-error\"><strong>") + .text(error.type) + HTML(raw: "</strong> (")
                + .text(error.kind.rawValue + (error.retryable ? ", retryable" : "")) + HTML(raw: ")</p><pre class=\"error-text\">")
                + .text(error.message) + HTML(raw: "</pre>")
        }
        body += HTML(raw: "</section>") + events
        return Layout.page(title: "Task " + t.name, page: page,
                           live: "/live?task=" + FormFields.encode(t.id) + "&queue=" + FormFields.encode(t.queue), body: body)
    }

    private static func actions(_ t: TaskInfo, page: PageContext) -> HTML {
        if let note = page.actionNote { return note }
        let base = "/api/tasks/" + FormFields.encode(t.id)
        let fields = [("queue", t.queue), ("back", Layout.taskHref(t.id, queue: t.queue))]
        var html = HTML(raw: "<div class=\"actions\">")
        if retryable.contains(t.state) { html += page.button("Retry", action: base + "/retry", fields: fields) }
        if cancellable.contains(t.state) { html += page.button("Cancel", action: base + "/cancel", fields: fields, danger: true) }
        return html + HTML(raw: "</div>")
    }

    /// enqueued → (eta) → started → finished, with the times Redis holds.
    private static func timeline(_ t: TaskInfo, envelope: Envelope?) -> HTML {
        var steps: [(label: String, date: Date?, field: String)] = [("enqueued", t.enqueuedAt, "enqueued_at")]
        if let eta = envelope?.eta { steps.append(("due (eta)", Date(timeIntervalSince1970: Double(eta) / 1000), "eta")) }
        if let exp = envelope?.expiresAt { steps.append(("expires", Date(timeIntervalSince1970: Double(exp) / 1000), "expires_at")) }
        steps.append(("started", t.startedAt, "started_at"))
        steps.append((t.state.isTerminal ? t.state.rawValue : "finished", t.finishedAt, "finished_at"))
        var html = HTML(raw: "<section class=\"panel\"><h2>Timeline</h2><ol class=\"timeline\">")
        for (label, date, field) in steps {
            html += HTML(raw: "<li") + (date == nil ? HTML.attr("class", "pending") : HTML(raw: "")) + HTML(raw: "><span class=\"step\"")
                + (field == "finished_at" ? HTML.attr("data-field", "finished_label") : HTML(raw: "")) + HTML(raw: ">")
                + .text(label) + HTML(raw: "</span> <time") + .attr("data-field", field) + HTML(raw: ">")
                + .text(date.map { Format.iso($0) + " (" + Format.relative($0) + ")" } ?? "–") + HTML(raw: "</time></li>")
        }
        return html + HTML(raw: "</ol></section>")
    }
}
