import Kale

/// The end of one awaited task, or how far it got.
struct AwaitedTask: Sendable {
    var ref: KaleClient.TaskRef
    /// The record when the wait ended; nil when the task no longer exists.
    var info: TaskInfo?
    /// The wait's deadline passed before the task ended.
    var timedOut: Bool

    var succeeded: Bool { !timedOut && info?.state == .succeeded }

    var json: JSONValue {
        guard let info else { return .object(["id": .string(ref.id), "queue": .string(ref.queue), "state": .string("missing")]) }
        return info.json(timedOut: timedOut)
    }

    var line: String {
        guard let info else { return "\(ref.id) missing" }
        return timedOut ? "\(ref.id) \(info.state.rawValue) (did not end in time)" : info.line
    }
}

/// Waits for many tasks at once, a bounded number at a time.
///
/// Every wait shares the client's single pub/sub connection; the bound keeps the number of
/// subscribed channels (and of in-flight record reads) small however many tasks there are.
enum BatchWait {
    /// Longest wait when no timeout is given: a decade, in effect forever.
    static let forever: Duration = .seconds(10 * 365 * 86_400)

    /// - Returns: one entry per ref, in the refs' order.
    /// - Throws: ``RedisError`` when Redis fails during the wait.
    static func wait(for refs: [KaleClient.TaskRef], client: KaleClient, timeout: Duration?, width: Int = 500,
                     meter: ProgressMeter?) async throws -> [AwaitedTask] {
        let deadline = ContinuousClock.now + (timeout ?? forever)
        return try await withThrowingTaskGroup(of: (Int, AwaitedTask).self) { group in
            var results = [AwaitedTask?](repeating: nil, count: refs.count)
            var next = 0
            while next < min(width, refs.count) {
                let (i, ref) = (next, refs[next])
                group.addTask { (i, try await one(ref, client: client, deadline: deadline)) }
                next += 1
            }
            for try await (i, outcome) in group {
                results[i] = outcome
                meter?.record(succeeded: outcome.succeeded)
                if next < refs.count {
                    let (j, ref) = (next, refs[next])
                    group.addTask { (j, try await one(ref, client: client, deadline: deadline)) }
                    next += 1
                }
            }
            return results.map { $0! }
        }
    }

    private static func one(_ ref: KaleClient.TaskRef, client: KaleClient, deadline: ContinuousClock.Instant) async throws -> AwaitedTask {
        let remaining = max(deadline - .now, .zero)
        do {
            let info = try await client.wait(for: ref.id, queue: ref.queue, timeout: remaining)
            return AwaitedTask(ref: ref, info: info, timedOut: false)
        } catch let e as KaleError where e.code == .timeout {
            return AwaitedTask(ref: ref, info: try await client.status(of: ref.id, queue: ref.queue), timedOut: true)
        } catch let e as KaleError where e.code == .notFound {
            return AwaitedTask(ref: ref, info: nil, timedOut: false)
        }
    }
}
