/// One node of a workflow's tree: a step (one task), or a chain, group or chord of nodes.
///
/// A chain runs its nodes in order, each one's output the next one's input; a group runs its
/// nodes at once, on the same input, and its output is the array of theirs in order; a chord
/// is a group whose array goes to one more node. They nest: a chain of groups, a chord inside
/// a chain (docs/workflows.md).
public indirect enum WorkflowNode: Sendable, Hashable {
    case step(WorkflowStep)
    case chain([WorkflowNode])
    case group([WorkflowNode])
    case chord(group: [WorkflowNode], then: WorkflowNode)

    /// How deep nodes may nest: a document deeper than this is refused before anything is
    /// enqueued (the paths of the steps grow with it, and so does every walk of the tree).
    public static let maximumDepth = 16
    /// The most steps one workflow may have.
    public static let maximumSteps = 100_000

    /// The steps, with their paths, in order (depth first).
    public func steps(at path: WorkflowPath = .root) -> [(path: WorkflowPath, step: WorkflowStep)] {
        switch self {
        case .step(let s): return [(path, s)]
        case .chain(let nodes), .group(let nodes):
            return nodes.enumerated().flatMap { $1.steps(at: path.child($0)) }
        case .chord(let group, let then):
            return group.enumerated().flatMap { $1.steps(at: path.child(0).child($0)) } + then.steps(at: path.child(1))
        }
    }

    /// The node at `path` below this one, or nil.
    public func node(at path: WorkflowPath) -> WorkflowNode? {
        var node = self
        for index in path.indices {
            switch node {
            case .step: return nil
            case .chain(let nodes), .group(let nodes):
                guard nodes.indices.contains(index) else { return nil }
                node = nodes[index]
            case .chord(let group, let then):
                if index == 0 { node = .group(group) } else if index == 1 { node = then } else { return nil }
            }
        }
        return node
    }

}

/// A step of a workflow: a task by name, with a fixed input or the previous node's output.
public struct WorkflowStep: Sendable, Hashable {
    /// The registered task name.
    public var task: String
    /// The input; nil: the step receives the output of what came before it (the workflow's
    /// input for a first step).
    public var args: JSONValue?
    /// Its own options: queue, priority, retries, time limits. Unset ones take the task's
    /// registered defaults where the step is enqueued with a registry, else Kale's.
    public var options: EnqueueOptions

    public init(task: String, args: JSONValue? = nil, options: EnqueueOptions = EnqueueOptions()) {
        self.task = task
        self.args = args
        self.options = options
    }
}

/// Where a node is in its workflow's tree: the root is empty, and each level adds the node's
/// index among its parent's children (a chord's children are its group, 0, and its callback, 1).
public struct WorkflowPath: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var indices: [Int]

    public init(_ indices: [Int]) { self.indices = indices }

    public static let root = WorkflowPath([])

    public func child(_ index: Int) -> WorkflowPath { WorkflowPath(indices + [index]) }

    /// The parent's path; nil for the root.
    public var parent: WorkflowPath? { indices.isEmpty ? nil : WorkflowPath(Array(indices.dropLast())) }

    /// `0.2.1`, or `root`: part of each step's task id.
    public var description: String { indices.isEmpty ? "root" : indices.map(String.init).joined(separator: ".") }

    /// Parses ``description``.
    public init?(_ text: String) {
        if text == "root" { self.init([]); return }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
        self.init(parts.map { $0 ?? 0 })
    }

    public static func < (a: WorkflowPath, b: WorkflowPath) -> Bool { a.indices.lexicographicallyPrecedes(b.indices) }
}
