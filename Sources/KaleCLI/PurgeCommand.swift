import ArgumentParser
import Kale

/// `kale purge`: deletes every waiting task of a queue.
struct PurgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Delete every waiting (pending and scheduled) task of a queue.",
        discussion: """
        Example:
          kale purge images --yes

        Running tasks finish normally; dead tasks stay (see 'kale dead purge'). Prints 'deleted <n> waiting tasks from <queue>' (--json: {"queue","deleted"}). Refuses to run without --yes.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: "The queue.")
    var queue: String

    @Flag(help: "Confirm the deletion.")
    var yes = false

    func validate() throws {
        guard Keys.isValidQueueName(queue) else { throw ValidationError("'\(queue)' is not a valid queue name") }
    }

    func run() async throws {
        // Checked here, not in validate(), so the hint survives ArgumentParser's wrapping.
        guard yes else {
            throw CLIFailure.usage("refusing to delete the waiting tasks of '\(queue)' without --yes", hint: "kale purge \(queue) --yes")
        }
        let client = try await global.client()
        let n = try await client.purge(queue: queue)
        output.json ? Output.json(.object(["queue": .string(queue), "deleted": .number(Double(n))]))
                    : Output.line("deleted \(n) waiting task\(n == 1 ? "" : "s") from \(queue)")
    }
}
