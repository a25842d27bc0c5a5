import Foundation
import Kale
import Testing

/// The JSON form of workflows: what it reads, what it refuses (before anything is enqueued),
/// and that writing and reading it again gives the same tree.
@Suite struct WorkflowDocumentTests {
    static func parse(_ text: String) throws -> WorkflowNode {
        try WorkflowNode(document: try JSONValue(parsing: Data(text.utf8)))
    }

    @Test func readsEveryKindOfNodeAndNesting() throws {
        let node = try Self.parse(#"""
        {"chain": [
          {"task": "fetch", "args": {"url": "u"}, "queue": "io", "retries": 5, "time_limit": "30s"},
          {"group": [{"task": "resize", "priority": "high"}, {"task": "ocr", "soft_time_limit": 2.5}]},
          {"chord": {"group": [{"task": "a"}, {"chain": [{"task": "b"}, {"task": "c"}]}], "then": {"task": "merge"}}}
        ]}
        """#)
        let steps = node.steps()
        #expect(steps.map(\.path.description) == ["0", "1.0", "1.1", "2.0.0", "2.0.1.0", "2.0.1.1", "2.1"])
        #expect(steps.map(\.step.task) == ["fetch", "resize", "ocr", "a", "b", "c", "merge"])
        let fetch = steps[0].step
        #expect(fetch.args == .object(["url": .string("u")]) && fetch.options.queue == "io" && fetch.options.maxRetries == 5)
        #expect(fetch.options.timeLimit == .seconds(30))
        #expect(steps[1].step.options.priority == .high && steps[1].step.args == nil)
        #expect(steps[2].step.options.softTimeLimit == .milliseconds(2500))
        #expect(try WorkflowNode(document: node.document) == node, "the document round-trips")
    }

    static let refusals: [(String, String)] = [
        (#"[]"#, "$: expected an object"),
        (#"{}"#, "$: needs one of task, chain, group or chord"),
        (#"{"task": "a", "chain": []}"#, "$: has task and chain"),
        (#"{"task": "a", "queue": "q", "bogus": 1}"#, "$: unknown key 'bogus'"),
        (#"{"chain": []}"#, "$.chain: is empty"),
        (#"{"group": [{"task": "a"}, {"group": []}]}"#, "$.group[1].group: is empty"),
        (#"{"chain": {"task": "a"}}"#, "$.chain: expected an array of nodes"),
        (#"{"chain": [{"task": "a"}], "extra": true}"#, "$: unknown key 'extra' beside 'chain'"),
        (#"{"chord": {"group": [{"task": "a"}]}}"#, "$.chord: needs 'then'"),
        (#"{"chord": {"group": [{"task": "a"}], "then": {"task": "b"}, "else": 1}}"#, "$.chord: unknown key 'else'"),
        (#"{"task": ""}"#, "$.task: expected a task name"),
        (#"{"task": "a", "queue": "bad{q}"}"#, "$.queue: expected a queue name"),
        (#"{"task": "a", "priority": "urgent"}"#, "$.priority: expected high, normal or low"),
        (#"{"task": "a", "retries": -1}"#, "$.retries: expected a whole number"),
        (#"{"task": "a", "retries": 1.5}"#, "$.retries: expected a whole number"),
        (#"{"task": "a", "time_limit": "soon"}"#, "$.time_limit: 'soon' is not a duration"),
    ]

    @Test(arguments: refusals)
    func refusesABadDocumentSayingWhereAndWhy(_ text: String, says: String) throws {
        #expect {
            try Self.parse(text)
        } throws: { error in
            (error as? WorkflowError)?.message.hasPrefix(says) == true
        }
    }

    @Test func refusesNestingDeeperThanTheLimit() throws {
        var text = #"{"task": "a"}"#
        for _ in 0..<(WorkflowNode.maximumDepth - 1) { text = #"{"chain": ["# + text + "]}" }
        _ = try Self.parse(text)
        let deeper = #"{"chain": ["# + text + "]}"
        #expect(throws: WorkflowError.self) { try Self.parse(deeper) }
    }
}

/// What follows what: the plan a forwarder replays after every step.
@Suite struct WorkflowPlanTests {
    static let tree = try! WorkflowNode(document: try! JSONValue(parsing: Data(#"""
    {"chain": [
      {"task": "a", "args": {"n": 1}},
      {"task": "b"},
      {"chord": {"group": [{"task": "c"}, {"chain": [{"task": "d"}, {"task": "e", "args": {"fixed": true}}]}], "then": {"task": "f"}}},
      {"group": [{"task": "g"}, {"task": "h"}]}
    ]}
    """#.utf8)))
    let plan = WorkflowPlan(Self.tree)

    @Test func aChainPassesEachOutputToTheNextStep() {
        let first = plan.starts(at: .root, input: .object([:]))
        #expect(first.map(\.path.description) == ["0"] && first[0].input == .object(["n": .number(1)]), "a fixed input wins")
        #expect(plan.after(WorkflowPath([0]), value: .number(2)) == .start([
            .init(path: WorkflowPath([1]), step: WorkflowStep(task: "b"), input: .number(2))]))
    }

    @Test func aChordStartsItsWholeGroupAndJoinsBeforeItsCallback() {
        guard case .start(let starts) = plan.after(WorkflowPath([1]), value: .string("x")) else { Issue.record("no start"); return }
        #expect(starts.map(\.path.description) == ["2.0.0", "2.0.1.0"], "the group starts at once, a nested chain with its first step")
        #expect(starts.allSatisfy { $0.input == .string("x") })
        #expect(plan.after(WorkflowPath([2, 0, 0]), value: .number(10)) == .join(group: WorkflowPath([2, 0]), index: 0, count: 2, value: .number(10)))
        guard case .start(let e) = plan.after(WorkflowPath([2, 0, 1, 0]), value: .number(5)) else { Issue.record("no e"); return }
        #expect(e.map(\.path.description) == ["2.0.1.1"] && e[0].input == .object(["fixed": .bool(true)]))
        #expect(plan.after(WorkflowPath([2, 0, 1, 1]), value: .number(11)) == .join(group: WorkflowPath([2, 0]), index: 1, count: 2, value: .number(11)))
        // The group (child 0 of the chord) ended: its array goes to the callback.
        let array = JSONValue.array([.number(10), .number(11)])
        #expect(plan.after(WorkflowPath([2, 0]), value: array) == .start([.init(path: WorkflowPath([2, 1]), step: WorkflowStep(task: "f"), input: array)]))
    }

    @Test func theLastNodeEndsTheWorkflow() {
        guard case .start(let gh) = plan.after(WorkflowPath([2, 1]), value: .string("merged")) else { Issue.record("no group"); return }
        #expect(gh.map(\.path.description) == ["3.0", "3.1"])
        #expect(plan.after(WorkflowPath([3, 1]), value: .null) == .join(group: WorkflowPath([3]), index: 1, count: 2, value: .null))
        #expect(plan.after(WorkflowPath([3]), value: .array([.null, .null])) == .finish(.array([.null, .null])))
    }

    @Test func pathsReadBack() {
        for p in [WorkflowPath.root, WorkflowPath([0]), WorkflowPath([2, 0, 13])] { #expect(WorkflowPath(p.description) == p) }
        #expect(WorkflowPath("1..2") == nil && WorkflowPath("x") == nil && WorkflowPath("-1") == nil)
    }
}
