import Foundation
import Kale
import KaleCLI

/// `/workflows/:id`: a workflow's state and its tree, each step with its state, attempts and
/// worker, linked to its task page.
enum WorkflowPage {
    static func render(_ w: WorkflowInfo, records: [WorkflowPath: TaskInfo], page: PageContext) -> HTML {
        var body = HTML(raw: "<section class=\"panel\" id=\"workflow\"") + .attr("data-workflow-id", w.id) + .attr("data-state", w.state)
            + HTML(raw: "><dl class=\"record\"><dt>Id</dt><dd>") + .text(w.id) + HTML(raw: "</dd><dt>State</dt><dd data-field=\"state\">")
            + .text(w.state) + HTML(raw: "</dd>")
        if let p = w.failedStep { body += HTML(raw: "<dt>Failed step</dt><dd data-field=\"failed_step\">") + .text(p.description) + HTML(raw: "</dd>") }
        if let c = w.createdAt { body += HTML(raw: "<dt>Created</dt><dd>") + .text(Format.iso(c)) + HTML(raw: "</dd>") }
        if let f = w.finishedAt { body += HTML(raw: "<dt>Finished</dt><dd>") + .text(Format.iso(f)) + HTML(raw: "</dd>") }
        body += HTML(raw: "</dl>")
        if let e = w.error {
            body += HTML(raw: "<p class=\"error\" id=\"workflow-error\"><strong>") + .text(e.type) + HTML(raw: "</strong> ") + .text(e.message) + HTML(raw: "</p>")
        }
        if w.state == "succeeded", let r = w.result {
            body += HTML(raw: "<h2>Result</h2><pre id=\"workflow-result\">") + .text(r.jsonString) + HTML(raw: "</pre>")
        }
        body += HTML(raw: "<h2>Steps</h2><ul class=\"workflow-tree\">") + tree(w.tree, at: .root, workflow: w.id, records: records)
            + HTML(raw: "</ul></section>")
        return Layout.page(title: "Workflow", page: page, body: body)
    }

    private static func tree(_ node: WorkflowNode, at path: WorkflowPath, workflow: String, records: [WorkflowPath: TaskInfo]) -> HTML {
        switch node {
        case .step(let s):
            let r = records[path]
            let queue = s.options.queue ?? "default"
            var li = HTML(raw: "<li class=\"step\"") + .attr("data-path", path.description) + .attr("data-state", r?.state.rawValue ?? "not started")
                + HTML(raw: "><a") + .attr("href", Layout.taskHref(KaleClient.workflowStepID(workflow, path), queue: queue)) + HTML(raw: ">")
                + .text(path.description + " " + s.task) + HTML(raw: "</a> ") + .text(r?.state.rawValue ?? "not started")
            if let r, r.attempt > 0 { li += .text(", attempt \(r.attempt)") }
            if let w = r?.worker { li += .text(", " + w) }
            return li + HTML(raw: "</li>")
        case .chain(let nodes):
            return HTML(raw: "<li class=\"kind\">chain<ol>") + nodes.enumerated().map { tree($1, at: path.child($0), workflow: workflow, records: records) }
                .reduce(HTML(raw: ""), +) + HTML(raw: "</ol></li>")
        case .group(let nodes):
            return HTML(raw: "<li class=\"kind\">group<ul>") + nodes.enumerated().map { tree($1, at: path.child($0), workflow: workflow, records: records) }
                .reduce(HTML(raw: ""), +) + HTML(raw: "</ul></li>")
        case .chord(let group, let then):
            return HTML(raw: "<li class=\"kind\">chord<ul>") + tree(.group(group), at: path.child(0), workflow: workflow, records: records)
                + HTML(raw: "<li class=\"kind\">then<ul>") + tree(then, at: path.child(1), workflow: workflow, records: records)
                + HTML(raw: "</ul></li></ul></li>")
        }
    }
}
