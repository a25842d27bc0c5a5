import ArgumentParser
import Foundation
import Kale
import KaleCLI

/// `kale-bench`: measurements of Kale's parts on this machine, one subcommand per area.
///
/// `kale-bench worker …` is the `kale worker` command with the diagnostic tasks: the
/// scenarios start this executable as their worker daemon, so one build measures itself.
struct KaleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kale-bench",
        abstract: "Benchmarks for Kale. Build in release: swift run -c release kale-bench [queue|redis|celery].",
        subcommands: [QueueBench.self, RedisBench.self, CeleryBench.self, PeersBench.self],
        defaultSubcommand: QueueBench.self
    )
}

/// The entry point (not in `main.swift`: an async command started from top-level code never runs).
@main
enum BenchMain {
    static func main() async {
        // `worker` is the daemon the scenarios start; `enqueue` the CLI command they time.
        if ["worker", "enqueue"].contains(CommandLine.arguments.dropFirst().first) {
            await KaleCLI.main(registry: TaskRegistry(), diagnosticsByDefault: true)
        }
        do {
            var command = try KaleBench.parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch {
            KaleBench.exit(withError: error)
        }
    }
}
