public import Kale

extension DiagnosticTasks {
    public struct AddInput: Codable, Sendable {
        public var x: Double
        public var y: Double
        public init(x: Double, y: Double) { self.x = x; self.y = y }
    }

    /// Returns `x + y`. Declares its argument names, so a Celery client may call it with
    /// positional arguments, `send_task('kale.add', args=(2, 3))`, as the bridge maps them.
    public struct Add: TaskDefinition {
        public static let name = "kale.add"
        public static let argumentNames = ["x", "y"]
        public init() {}
        public func run(_ input: AddInput, context: TaskContext) async throws -> Double { input.x + input.y }
    }
}
