import ArgumentParser
import Kale

/// `kale queue`: pause and resume queues.
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Pause or resume a queue.",
        discussion: """
        Examples:
          kale queue pause images
          kale queue resume images

        A paused queue keeps its tasks and still takes new ones, but no worker leases from it: within a second every worker stops fetching from it, and tasks already running finish. kale inspect shows which queues are paused.
        """,
        subcommands: [QueuePause.self, QueueResume.self]
    )
}

/// `kale queue pause Q`.
struct QueuePause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop workers leasing from a queue.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The queue to pause.") var queue: String

    func run() async throws {
        let changed = try await global.client().pause(queue: queue)
        QueueCommand.report(queue: queue, paused: true, changed: changed, json: output.json)
    }
}

/// `kale queue resume Q`.
struct QueueResume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Let workers lease from a paused queue again.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The queue to resume.") var queue: String

    func run() async throws {
        let changed = try await global.client().resume(queue: queue)
        QueueCommand.report(queue: queue, paused: false, changed: changed, json: output.json)
    }
}

extension QueueCommand {
    /// Prints the outcome: `paused images` / `images was already paused`
    /// (--json: {"queue","paused","changed"}).
    static func report(queue: String, paused: Bool, changed: Bool, json: Bool) {
        if json {
            Output.json(.object(["queue": .string(queue), "paused": .bool(paused), "changed": .bool(changed)]))
        } else if changed {
            Output.line("\(paused ? "paused" : "resumed") \(queue)")
        } else {
            Output.line("\(queue) was \(paused ? "already paused" : "not paused")")
        }
    }
}
