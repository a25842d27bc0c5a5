import Kale

extension AwaitedTask {
    var json: JSONValue {
        guard let info else { return .object(["id": .string(ref.id), "queue": .string(ref.queue), "state": .string("missing")]) }
        return info.json(timedOut: timedOut)
    }

    var line: String {
        guard let info else { return "\(ref.id) missing" }
        return timedOut ? "\(ref.id) \(info.state.rawValue) (did not end in time)" : info.line
    }
}

/// Waits for the tasks of one `kale enqueue --wait`, through their end group's list
/// (``KaleClient/waitAll(_:endGroup:timeout:onEnd:)``): a blocking read per queue, however
/// many tasks there are.
enum BatchWait {
    /// Longest wait when no timeout is given: a decade, in effect forever.
    static let forever: Duration = .seconds(10 * 365 * 86_400)

    /// - Returns: one entry per ref, in the refs' order.
    /// - Throws: ``RedisError`` when Redis fails during the wait.
    static func wait(for refs: [KaleClient.TaskRef], endGroup: String, client: KaleClient, timeout: Duration?,
                     meter: ProgressMeter?) async throws -> [AwaitedTask] {
        try await client.waitAll(refs, endGroup: endGroup, timeout: timeout ?? forever) { meter?.record(succeeded: $0.succeeded) }
    }
}
