/// A typed reference to an enqueued task.
public struct TaskHandle<T: TaskDefinition>: Sendable {
    public let client: KaleClient
    public let id: String
    public let queue: String
    /// False when a unique key was already held and this handle names the existing task.
    public let created: Bool

    /// The untyped reference, as ``KaleClient/waitAll(_:endGroup:timeout:onEnd:)`` takes it.
    public var ref: KaleClient.TaskRef { KaleClient.TaskRef(id: id, queue: queue, created: created) }

    /// Waits for the task's output.
    ///
    /// - Throws: see ``KaleClient/result(of:timeout:)``.
    public func result(timeout: Duration = .seconds(60)) async throws -> T.Output {
        try await client.result(of: self, timeout: timeout)
    }

    /// The task's current record.
    public func status() async throws -> TaskInfo? {
        try await client.status(of: id, queue: queue)
    }

    /// Cancels the task; see ``KaleClient/cancel(id:queue:)``.
    @discardableResult
    public func cancel() async throws -> String {
        try await client.cancel(id: id, queue: queue)
    }
}
