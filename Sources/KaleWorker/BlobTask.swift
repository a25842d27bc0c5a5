public import Kale

extension DiagnosticTasks {
    /// `kale.blob`: returns a string of `kb` KiB, to try the result size limits (the worker's
    /// `maxResultSize`, and the bound of the child's pipe). Input: `{"kb": 1024}`.
    public struct Blob: TaskDefinition {
        public static let name = "kale.blob"
        public struct Input: Codable, Sendable {
            public var kb: Int
        }

        public init() {}

        public func run(_ input: Input, context: TaskContext) async throws -> String {
            guard (0...(1 << 20)).contains(input.kb) else {
                throw TaskFailure.rejected("kb must be 0...1048576, not \(input.kb)", type: "InvalidInput")
            }
            return String(repeating: "k", count: input.kb << 10)
        }
    }
}
