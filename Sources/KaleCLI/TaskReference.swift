import ArgumentParser
import Kale

/// The task a command acts on: its id, and optionally its queue (else every queue is searched).
struct TaskReference: ParsableArguments {
    @Argument(help: "The task id.")
    var id: String

    @Option(help: "The task's queue (default: search every queue).")
    var queue: String?

    func validate() throws {
        if let queue, !Keys.isValidQueueName(queue) { throw ValidationError("'\(queue)' is not a valid queue name") }
    }
}
