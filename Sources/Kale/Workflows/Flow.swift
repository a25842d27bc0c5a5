/// A workflow whose steps the compiler checks: a `Flow<Input, Output>` takes `Input` and ends
/// with `Output`, and `then` accepts only a flow whose input is this one's output.
///
/// ```swift
/// let flow = Workflow.step(Fetch.self, input: url)        // Flow<NoInput, Page>
///     .then(Workflow.step(Parse.self))                     // Parse.Input == Page
///     .then(Workflow.chord([Workflow.step(Count.self), Workflow.step(Index.self)],
///                          then: Workflow.step(Merge.self))) // Count and Index take Parse.Output;
///                                                            // Merge.Input == [their Output]
/// let handle = try await client.submit(flow)
/// let merged = try await handle.result()
/// ```
public struct Flow<Input: Codable & Sendable, Output: Codable & Sendable>: Sendable {
    /// The tree it stands for (what ``KaleClient/submit(_:input:id:ttl:onError:collectFailures:defaults:)`` takes).
    public let node: WorkflowNode

    init(_ node: WorkflowNode) { self.node = node }

    /// This flow, then `next` on its output: a chain.
    public func then<Next>(_ next: Flow<Output, Next>) -> Flow<Input, Next> {
        func items(_ n: WorkflowNode) -> [WorkflowNode] {
            if case .chain(let nodes) = n { return nodes }
            return [n]
        }
        return Flow<Input, Next>(.chain(items(node) + items(next.node)))
    }

    /// This flow, then `task` on `input` of its own (this flow's output is not passed on).
    public func then<T: TaskDefinition>(_ task: T.Type, input: T.Input, options: EnqueueOptions = EnqueueOptions()) -> Flow<Input, T.Output> {
        then(Flow<Output, T.Output>(Workflow.fixed(task, input, options)))
    }
}

/// The input of a flow whose first steps have their own (``Workflow/step(_:input:options:)``).
public struct NoInput: Codable, Sendable, Hashable {
    public init() {}
}

/// The building blocks of ``Flow``.
public enum Workflow {
    /// A step running `task` on the output of what comes before it.
    public static func step<T: TaskDefinition>(_ task: T.Type, options: EnqueueOptions = EnqueueOptions()) -> Flow<T.Input, T.Output> {
        Flow(.step(WorkflowStep(task: T.name, options: options)))
    }

    /// A step running `task` on `input` of its own: a first step (within a chain, use
    /// ``Flow/then(_:input:options:)``, which ignores what came before).
    /// - Precondition: `input` encodes as JSON (a programmer error otherwise).
    public static func step<T: TaskDefinition>(_ task: T.Type, input: T.Input, options: EnqueueOptions = EnqueueOptions()) -> Flow<NoInput, T.Output> {
        Flow(fixed(task, input, options))
    }

    static func fixed<T: TaskDefinition>(_ task: T.Type, _ input: T.Input, _ options: EnqueueOptions) -> WorkflowNode {
        let args: JSONValue
        do { args = try JSONValue(encoding: input) } catch { preconditionFailure("the input of \(T.name) does not encode as JSON: \(error)") }
        return .step(WorkflowStep(task: T.name, args: args, options: options))
    }

    /// `flows` at once on the same input; the output is theirs in order.
    /// - Precondition: `flows` is not empty.
    public static func group<I, O>(_ flows: [Flow<I, O>]) -> Flow<I, [O]> {
        precondition(!flows.isEmpty, "a group needs at least one flow")
        return Flow(.group(flows.map(\.node)))
    }

    /// `flows` at once, then `callback` on their outputs in order.
    /// - Precondition: `flows` is not empty.
    public static func chord<I, O, R>(_ flows: [Flow<I, O>], then callback: Flow<[O], R>) -> Flow<I, R> {
        precondition(!flows.isEmpty, "a chord needs at least one flow in its group")
        return Flow(.chord(group: flows.map(\.node), then: callback.node))
    }
}
