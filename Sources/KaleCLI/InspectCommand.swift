import ArgumentParser
import Foundation
import Kale
import KaleRedis

/// `kale inspect`: queues, workers and single tasks, once or redrawn every second.
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show queues, workers or one task.",
        discussion: """
        Examples:
          kale inspect           # every queue and every live worker
          kale inspect --watch   # the same, redrawn every second until Ctrl-C
          kale inspect queues --json
          kale inspect workers
          kale inspect task 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b
        """,
        subcommands: [InspectOverview.self, InspectQueues.self, InspectWorkers.self, InspectTask.self],
        defaultSubcommand: InspectOverview.self
    )
}
