import Foundation

/// A submitted typed workflow: its id, and its output once it ends.
public struct WorkflowHandle<Output: Codable & Sendable>: Sendable {
    public let client: KaleClient
    public let id: String

    /// Waits for the workflow to end and decodes its output.
    /// - Throws: the ``TaskFailure`` that ended it (failed or cancelled), ``KaleError``
    ///   `.timeout` when it is still running at `timeout`, or a decoding error.
    public func result(timeout: Duration = .seconds(60)) async throws -> Output {
        let info = try await client.waitForWorkflow(id, timeout: timeout)
        switch info.state {
        case "succeeded":
            return try (info.result ?? .null).decode(Output.self)
        case "running":
            throw KaleError(.timeout, detail: "workflow \(id) is still running after \(timeout)")
        default:
            throw info.error ?? TaskFailure(kind: .error, type: "WorkflowFailed", message: "workflow \(id) ended \(info.state)", retryable: false)
        }
    }

    /// Its record now.
    public func info() async throws -> WorkflowInfo? { try await client.workflowInfo(id) }

    /// Cancels it (see ``KaleClient/cancelWorkflow(_:)``).
    @discardableResult
    public func cancel() async throws -> Bool { try await client.cancelWorkflow(id) }
}

extension KaleClient {
    /// Submits a typed workflow whose first steps have their own input.
    /// - Throws: as ``submit(_:input:id:ttl:onError:collectFailures:defaults:)``.
    public func submit<O>(_ flow: Flow<NoInput, O>, id: String? = nil, ttl: Duration? = nil,
                          defaults: @Sendable (String) -> EnqueueOptions? = { _ in nil }) async throws -> WorkflowHandle<O> {
        let ref = try await submit(flow.node, input: .object([:]), id: id, ttl: ttl, defaults: defaults)
        return WorkflowHandle(client: self, id: ref.id)
    }

    /// Submits a typed workflow with `input` for its first steps.
    /// - Throws: as ``submit(_:input:id:ttl:onError:collectFailures:defaults:)``, or ``KaleError`` `.encoding`.
    public func submit<I, O>(_ flow: Flow<I, O>, input: I, id: String? = nil, ttl: Duration? = nil,
                             defaults: @Sendable (String) -> EnqueueOptions? = { _ in nil }) async throws -> WorkflowHandle<O> {
        let args: JSONValue
        do { args = try JSONValue(encoding: input) } catch { throw KaleError(.encoding, detail: "the workflow's input does not encode as JSON: \(error)") }
        let ref = try await submit(flow.node, input: args, id: id, ttl: ttl, defaults: defaults)
        return WorkflowHandle(client: self, id: ref.id)
    }
}
