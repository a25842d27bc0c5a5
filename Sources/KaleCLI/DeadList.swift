import ArgumentParser
import Foundation
import Kale

/// `kale dead list`: the newest dead tasks across queues.
struct DeadList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "The newest dead tasks: id, queue, name, when it died, error.",
        discussion: """
        Examples:
          kale dead list
          kale dead list --queue images --limit 10 --json

        --json prints one dead-task object per line, newest first.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Only this queue (default: every queue).")
    var queue: String?

    @Option(help: "Show at most this many.")
    var limit: Int = 50

    func validate() throws {
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let queue, !Keys.isValidQueueName(queue) { throw ValidationError("'\(queue)' is not a valid queue name") }
    }

    func run() async throws {
        let client = try await global.client()
        let tasks = try await client.deadTasks(queue: queue, limit: limit)
        if output.json {
            for t in tasks { Output.json(t.json) }
            return
        }
        guard !tasks.isEmpty else {
            Output.line("no dead tasks")
            return
        }
        var table = TextTable([("ID", .left), ("QUEUE", .left), ("NAME", .left), ("DIED AT", .left), ("ERROR", .left)])
        for t in tasks {
            table.add([t.id, t.queue, t.name.isEmpty ? "?" : t.name, Format.iso(t.diedAt),
                       t.error.map { Format.clip("\($0.type): \($0.message)", 100) } ?? "-"])
        }
        Output.line(table.render())
    }
}
