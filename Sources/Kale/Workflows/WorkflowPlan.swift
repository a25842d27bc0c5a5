/// What follows in a workflow when a node ends: pure logic over the tree, the same on every
/// worker and on every replay, so a forward repeated after a crash decides the same thing
/// (decision 0024).
public struct WorkflowPlan: Sendable {
    public let root: WorkflowNode

    public init(_ root: WorkflowNode) { self.root = root }

    /// A step to enqueue: where it is, what it runs, and its input.
    public struct Start: Sendable, Hashable {
        public var path: WorkflowPath
        public var step: WorkflowStep
        public var input: JSONValue

        public init(path: WorkflowPath, step: WorkflowStep, input: JSONValue) {
            self.path = path
            self.step = step
            self.input = input
        }
    }

    /// What a node's end leads to.
    public enum Next: Sendable, Hashable {
        /// Enqueue these steps.
        case start([Start])
        /// Record `value` as member `index` of the group at `group` (of `count` members); when
        /// every member is recorded, the group ends with their values in order.
        case join(group: WorkflowPath, index: Int, count: Int, value: JSONValue)
        /// The workflow ends with this output.
        case finish(JSONValue)
    }

    /// The steps that start when the node at `path` starts with `input`.
    public func starts(at path: WorkflowPath, input: JSONValue) -> [Start] {
        guard let node = root.node(at: path) else { return [] }
        return Self.starts(node, at: path, input: input)
    }

    private static func starts(_ node: WorkflowNode, at path: WorkflowPath, input: JSONValue) -> [Start] {
        switch node {
        case .step(let s): return [Start(path: path, step: s, input: s.args ?? input)]
        case .chain(let nodes): return starts(nodes[0], at: path.child(0), input: input)
        case .group(let nodes): return nodes.enumerated().flatMap { starts($1, at: path.child($0), input: input) }
        case .chord(let group, _): return starts(.group(group), at: path.child(0), input: input)
        }
    }

    /// The paths of every group (a chord's group included): each has a join of its outputs.
    public func groupPaths() -> [WorkflowPath] {
        func walk(_ node: WorkflowNode, _ path: WorkflowPath) -> [WorkflowPath] {
            switch node {
            case .step: return []
            case .chain(let nodes): return nodes.enumerated().flatMap { walk($1, path.child($0)) }
            case .group(let nodes): return [path] + nodes.enumerated().flatMap { walk($1, path.child($0)) }
            case .chord(let group, let then): return walk(.group(group), path.child(0)) + walk(then, path.child(1))
            }
        }
        return walk(root, .root)
    }

    /// What follows the end of the node at `path` with output `value`.
    public func after(_ path: WorkflowPath, value: JSONValue) -> Next {
        guard let parentPath = path.parent, let index = path.indices.last, let parent = root.node(at: parentPath) else {
            return .finish(value)
        }
        switch parent {
        case .step:
            return .finish(value)
        case .chain(let nodes):
            if index + 1 < nodes.count { return .start(starts(at: parentPath.child(index + 1), input: value)) }
            return after(parentPath, value: value)
        case .group(let nodes):
            return .join(group: parentPath, index: index, count: nodes.count, value: value)
        case .chord:
            // Its group (child 0) ended: the callback gets the array; the callback (child 1)
            // ended: so did the chord.
            if index == 0 { return .start(starts(at: parentPath.child(1), input: value)) }
            return after(parentPath, value: value)
        }
    }
}
