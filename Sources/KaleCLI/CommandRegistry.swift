import ArgumentParser
import Synchronization

/// The subcommands of `kale`, in the order `--help` lists them.
enum CommandRegistry {
    static let builtIn: [any ParsableCommand.Type] = [
        EnqueueCommand.self,
        ResultCommand.self,
        CancelCommand.self,
        InspectCommand.self,
        DeadCommand.self,
        PurgeCommand.self,
        QueueCommand.self,
        LimitsCommand.self,
        ScheduleCommand.self,
        WorkflowCommand.self,
        EventsCommand.self,
        PingCommand.self,
        ACLCommand.self,
        WorkerCommand.self,
        DashboardLauncher.self,
    ]

    /// Commands an embedding executable added (``KaleCLI/main(registry:diagnosticsByDefault:commands:arguments:)``),
    /// set once before parsing. ArgumentParser reads `configuration` as a static, so the list
    /// has to live outside any instance.
    private static let embedded = Mutex<[any ParsableCommand.Type]>([])

    static func embed(_ commands: [any ParsableCommand.Type]) { embedded.withLock { $0 = commands } }

    /// The built-in commands, an embedded command replacing the built-in one of the same
    /// name (the in-process `dashboard` replaces the launcher), then the other embedded ones.
    static var all: [any ParsableCommand.Type] {
        let extra = embedded.withLock { $0 }
        return builtIn.map { command in extra.first { $0._commandName == command._commandName } ?? command }
            + extra.filter { e in !builtIn.contains { $0._commandName == e._commandName } }
    }
}
