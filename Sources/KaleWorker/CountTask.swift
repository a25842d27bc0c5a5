public import Kale
import KaleRedis

extension DiagnosticTasks {
    /// `kale.count`: after an optional pause, adds one to this task's entry in a Redis hash,
    /// so a test or an operator can prove how many runs of each task completed
    /// (`HGETALL key`). Input: `{"key": "<prefix>:…", "ms": 0, "reports": 0}`; with `reports`
    /// it first reports that many progress values (1/n … n/n) as fast as it can.
    ///
    /// The count is taken at the end of the run: a run killed midway does not count, so the
    /// sum over a queue minus its tasks is the number of runs completed twice. The key must lie
    /// under the worker's key prefix, so the task cannot write anywhere else.
    public struct Count: TaskDefinition {
        public static let name = "kale.count"
        public struct Input: Codable, Sendable {
            public var key: String
            public var ms: Int?
            public var reports: Int?
        }

        private let redis: RedisClient
        private let prefix: String

        /// Connects lazily, on the first run, with `kale`'s Redis settings.
        public init(kale: KaleConfiguration) {
            var config = kale.redis
            config.poolSize = 1
            config.clientName = "kale-count"
            redis = RedisClient(configuration: config)
            prefix = kale.keys.prefix + ":"
        }

        public func run(_ input: Input, context: TaskContext) async throws -> Int {
            guard input.key.hasPrefix(prefix) else {
                throw KaleError(.invalidOptions, detail: "kale.count writes only under '\(prefix)', not '\(input.key)'")
            }
            let reports = min(input.reports ?? 0, 100_000)
            if reports > 0 {
                for i in 1...reports { await context.reportProgress(Double(i) / Double(reports), message: "step \(i)") }
            }
            if let ms = input.ms, ms > 0 { try await Task.sleep(for: .milliseconds(ms)) }
            return try await redis.send("HINCRBY", input.key, context.id, 1).int ?? 0
        }
    }
}
