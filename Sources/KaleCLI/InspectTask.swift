import ArgumentParser
import Foundation
import Kale
import KaleRedis

/// `kale inspect task`: one task's record, message and timings.
struct InspectTask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task",
        abstract: "Everything Redis holds about one task.",
        discussion: """
        Examples:
          kale inspect task 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b
          kale inspect task 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b --watch

        --json prints the task object with its args and limits. Exits 1 when there is no such task.
        """
    )

    @OptionGroup var options: InspectOptions

    @OptionGroup var task: TaskReference
    var id: String { task.id }
    var queue: String? { task.queue }

    func run() async throws {
        let (id, queue, json) = (self.id, self.queue, options.output.json)
        try await options.show { client in
            guard let info = try await client.status(of: id, queue: queue) else { throw CLIFailure.notFound(id) }
            let envelope = info.message.flatMap { MessageDisplay.envelope(Array($0.utf8), client.configuration.format) }
            return json ? info.json(envelope: envelope).jsonString : InspectRender.task(info, envelope: envelope)
        }
    }
}
