import ArgumentParser

/// The subcommands of `kale`, in the order `--help` lists them.
enum CommandRegistry {
    static let all: [any ParsableCommand.Type] = [
        WorkerCommand.self,
    ]
}
