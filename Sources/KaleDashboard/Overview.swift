import Kale
import KaleCLI

/// The data of the overview: every queue's counts and the live workers.
struct Overview: Sendable {
    var queues: [QueueStats]
    var workers: [WorkerInfo]

    /// One round trip for the counts (LLEN and ZCARD per queue: O(1) however long the lists
    /// are) and one for the workers.
    static func load(_ client: KaleClient) async throws -> Overview {
        async let stats = client.stats()
        async let workers = client.workers()
        return try await Overview(queues: stats, workers: workers)
    }

    /// `kale inspect overview --json`'s object: `{"queues": [...], "workers": [...]}`.
    var json: JSONValue { .object(["queues": .array(queues.map(\.json)), "workers": .array(workers.map(\.json))]) }

}
