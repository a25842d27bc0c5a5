import ArgumentParser

/// The subcommands of `kale`, in the order `--help` lists them.
enum CommandRegistry {
    static let all: [any ParsableCommand.Type] = [
        EnqueueCommand.self,
        ResultCommand.self,
        CancelCommand.self,
        InspectCommand.self,
        DeadCommand.self,
        PurgeCommand.self,
        EventsCommand.self,
        PingCommand.self,
        WorkerCommand.self,
    ]
}
