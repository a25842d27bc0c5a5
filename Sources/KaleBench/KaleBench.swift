import ArgumentParser

/// `kale-bench`: measurements of Kale's parts on this machine, one subcommand per area.
///
/// `@main` lives here rather than in `main.swift`: an `AsyncParsableCommand` started from
/// top-level code compiles but never runs.
@main
struct KaleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kale-bench",
        abstract: "Benchmarks for Kale. Build in release: swift run -c release kale-bench <subcommand>.",
        // Queue scenarios join here as further subcommands.
        subcommands: [RedisBench.self]
    )
}
