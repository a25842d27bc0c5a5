import ArgumentParser
import Foundation
import Kale

/// `kale dead purge`: deletes dead tasks, only with `--yes`.
struct DeadPurge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Delete dead tasks and their records.",
        discussion: """
        Examples:
          kale dead purge --queue images --yes
          kale dead purge --yes            # every queue

        Prints 'deleted <n> dead tasks from <queue>' per queue (--json: {"queue","deleted"} per line). Refuses to run without --yes.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Only this queue (default: every queue).")
    var queue: String?

    @Flag(help: "Confirm the deletion.")
    var yes = false

    func validate() throws {
        if let queue, !Keys.isValidQueueName(queue) { throw ValidationError("'\(queue)' is not a valid queue name") }
    }

    func run() async throws {
        // Checked here, not in validate(), so the hint survives ArgumentParser's wrapping.
        guard yes else {
            throw CLIFailure.usage("refusing to delete dead tasks without --yes",
                                   hint: "kale dead purge \(queue.map { "--queue \($0) " } ?? "")--yes")
        }
        let client = try await global.client()
        let deleted = try await client.purgeDead(queue: queue)
        for (q, n) in deleted.sorted(by: { $0.key < $1.key }) {
            output.json ? Output.json(.object(["queue": .string(q), "deleted": .number(Double(n))]))
                        : Output.line("deleted \(n) dead task\(n == 1 ? "" : "s") from \(q)")
        }
    }
}
