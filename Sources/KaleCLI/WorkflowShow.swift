import ArgumentParser
import Foundation
import Kale

/// `kale workflow show ID`: the tree, each step's state, attempts, worker and timings.
struct WorkflowShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a workflow: its tree and each step's state.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The workflow's id.") var id: String

    func run() async throws {
        let client = try await global.client()
        guard let info = try await client.workflowInfo(id) else { throw Self.missing(id) }
        let records = try await client.workflowSteps(info)
        if output.json {
            Output.json(info.json(records: records))
            return
        }
        Output.line("workflow \(id): \(info.state)" + (info.failedStep.map { ", failed at step \($0)" } ?? ""))
        if let e = info.error { Output.line("error: \(e.type): \(e.message)") }
        if info.state == "succeeded", let r = info.result { Output.line("result: \(r.jsonString)") }
        Output.line(Self.tree(info.tree, at: .root, depth: 0, records: records).joined(separator: "\n"))
    }

    static func missing(_ id: String) -> CLIFailure {
        CLIFailure.failed("no workflow \(id) (never submitted, or it expired)", hint: "check the id, and --prefix if you use one")
    }

    /// The tree as indented lines: `chain`, `group`, `chord`, and a line per step.
    static func tree(_ node: WorkflowNode, at path: WorkflowPath, depth: Int, records: [WorkflowPath: TaskInfo]) -> [String] {
        let pad = String(repeating: "  ", count: depth)
        switch node {
        case .step(let s):
            let r = records[path]
            var line = "\(pad)\(path) \(s.task) [\(s.options.queue ?? "default")] \(r?.state.rawValue ?? "not started")"
            if let r, r.attempt > 0 { line += ", attempt \(r.attempt)" }
            if let w = r?.worker { line += ", worker \(w)" }
            if let s = r?.startedAt, let e = r?.finishedAt { line += ", ran \(Format.duration(.milliseconds(Int64(e.timeIntervalSince(s) * 1000))))" }
            return [line]
        case .chain(let nodes):
            return ["\(pad)chain"] + nodes.enumerated().flatMap { tree($1, at: path.child($0), depth: depth + 1, records: records) }
        case .group(let nodes):
            return ["\(pad)group"] + nodes.enumerated().flatMap { tree($1, at: path.child($0), depth: depth + 1, records: records) }
        case .chord(let group, let then):
            return ["\(pad)chord"] + tree(.group(group), at: path.child(0), depth: depth + 1, records: records)
                + ["\(pad)  then"] + tree(then, at: path.child(1), depth: depth + 2, records: records)
        }
    }

    /// The outcome line of `submit --wait`: id, state, then the result or the error.
    static func printOutcome(_ info: WorkflowInfo, json: Bool) {
        if json {
            var o: [String: JSONValue] = ["id": .string(info.id), "state": .string(info.state)]
            if let r = info.result { o["result"] = r }
            if let e = info.error { o["error"] = e.json }
            if let p = info.failedStep { o["failed_step"] = .string(p.description) }
            Output.json(.object(o))
        } else if info.state == "succeeded" {
            Output.line("\(info.id) succeeded \((info.result ?? .null).jsonString)")
        } else {
            Output.line("\(info.id) \(info.state)" + (info.failedStep.map { " at step \($0)" } ?? "")
                + (info.error.map { ": \($0.type): \($0.message)" } ?? ""))
        }
    }
}
