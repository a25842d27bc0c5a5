import ArgumentParser
import Kale

/// `kale cancel`: cancels a waiting task, or asks the worker running it to stop.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a task that has not ended.",
        discussion: """
        Examples:
          kale cancel 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b
          kale cancel 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b --queue images --json

        A waiting task (pending, scheduled, retrying) ends cancelled at once. For a running one a stop is requested and its worker stops it. Prints the outcome: cancelled, requested, or that the task had already ended (--json: {"id","queue","outcome","state"}). Exits 1 when no such task exists.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @OptionGroup var task: TaskReference
    var id: String { task.id }
    var queue: String? { task.queue }

    func run() async throws {
        let client = try await global.client()
        // The cancel script answers `cancelled` both when it cancels and when the task had
        // already ended cancelled; reading the state first tells the two apart.
        guard let before = try await client.status(of: id, queue: queue) else { throw CLIFailure.notFound(id) }
        let outcome = before.state.isTerminal
            ? before.state.rawValue
            : try await client.cancel(id: id, queue: before.queue)
        if outcome == "missing" { throw CLIFailure.notFound(id) }
        let alreadyEnded = before.state.isTerminal || (outcome != "cancelled" && outcome != "requested")
        if output.json {
            Output.json(.object(["id": .string(id), "queue": .string(before.queue), "outcome": .string(alreadyEnded ? "already_ended" : outcome),
                                 "state": .string(alreadyEnded ? outcome : outcome == "requested" ? "started" : "cancelled")]))
        } else if alreadyEnded {
            Output.line("\(id) had already ended \(outcome); nothing to cancel")
        } else if outcome == "requested" {
            Output.line("requested \(id): it is running; its worker stops it")
        } else {
            Output.line("cancelled \(id)")
        }
    }
}
