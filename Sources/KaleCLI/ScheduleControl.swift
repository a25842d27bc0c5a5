import ArgumentParser
import Kale

/// `kale schedule pause NAME`.
struct SchedulePause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop a schedule firing; missed ticks never fire.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The schedule's name.") var name: String

    func run() async throws {
        guard try await global.client().setSchedule(name, paused: true) else { throw ScheduleName.missing(name) }
        Output.line("paused schedule \(name)")
    }
}

/// `kale schedule resume NAME`.
struct ScheduleResume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Fire a paused schedule again, from its next tick.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The schedule's name.") var name: String

    func run() async throws {
        guard try await global.client().setSchedule(name, paused: false) else { throw ScheduleName.missing(name) }
        Output.line("resumed schedule \(name)")
    }
}

/// `kale schedule remove NAME`.
struct ScheduleRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Delete a schedule (the tasks it enqueued stay).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The schedule's name.") var name: String

    func run() async throws {
        guard try await global.client().removeSchedule(name) else { throw ScheduleName.missing(name) }
        Output.line("removed schedule \(name)")
    }
}

/// `kale schedule run-now NAME`.
struct ScheduleRunNow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run-now", abstract: "Enqueue a schedule's task now, outside its timing.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The schedule's name.") var name: String

    func run() async throws {
        let client = try await global.client()
        guard let definition = try await client.schedule(named: name) else { throw ScheduleName.missing(name) }
        let defaults = KaleCLI.registry.defaults(for: definition.task) ?? EnqueueOptions()
        guard let ref = try await client.runScheduleNow(name, defaults: defaults) else { throw ScheduleName.missing(name) }
        if output.json {
            Output.json(.object(["id": .string(ref.id), "queue": .string(ref.queue), "schedule": .string(name)]))
        } else {
            Output.line(ref.id)
        }
    }
}

enum ScheduleName {
    static func missing(_ name: String) -> CLIFailure {
        CLIFailure.failed("no schedule named \(name)", hint: "kale schedule list shows them")
    }
}
