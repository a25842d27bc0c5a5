import ArgumentParser
import Kale

/// `kale result`: shows a task's state and result or error, optionally waiting for its end.
struct ResultCommand: AsyncParsableCommand {
    /// The wait when no timeout is given: a decade, in effect for ever.
    static let forever: Duration = .seconds(10 * 365 * 86_400)

    static let configuration = CommandConfiguration(
        commandName: "result",
        abstract: "Show a task's state and its result or error.",
        discussion: """
        Examples:
          kale result 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b
          kale result 3f0c9a1e-8d2b-4c55-9a57-0c1d2e3f4a5b --wait --timeout 30s

        Prints one line: id, state, then the result as JSON or the error (--json: the task object). Exits 0 only when the task succeeded; 1 when it failed, has not ended yet, did not end within --timeout, or does not exist.
        """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @OptionGroup var task: TaskReference
    var id: String { task.id }
    var queue: String? { task.queue }

    @Flag(help: "Wait until the task ends.")
    var wait = false

    @Option(help: ArgumentHelp("With --wait: give up after this long (default: no limit).", valueName: "duration"))
    var timeout: DurationArgument?

    func validate() throws {
        if timeout != nil && !wait { throw ValidationError("--timeout needs --wait") }
    }

    func run() async throws {
        let client = try await global.client()
        var info: TaskInfo?
        var timedOut = false
        if wait {
            do {
                info = try await client.wait(for: id, queue: queue, timeout: timeout?.duration ?? Self.forever)
            } catch let e as KaleError where e.code == .timeout {
                info = try await client.status(of: id, queue: e.queue ?? queue)
                timedOut = true
            } catch let e as KaleError where e.code == .notFound {
                info = nil
            }
        } else {
            info = try await client.status(of: id, queue: queue)
        }
        guard let info else { throw CLIFailure.notFound(id) }
        output.json ? Output.json(info.json(timedOut: timedOut)) : Output.line(info.line)
        if timedOut {
            throw CLIFailure.failed("task \(id) did not end within \(Format.duration(timeout?.duration ?? .zero)) (it is \(info.state.rawValue))",
                                    hint: "is a worker serving queue '\(info.queue)'?")
        }
        if info.state != .succeeded {
            throw info.state.isTerminal
                ? CLIFailure.failed("task \(id) ended \(info.state.rawValue)", hint: nil)
                : CLIFailure.failed("task \(id) has not ended (it is \(info.state.rawValue))", hint: "pass --wait to wait for it")
        }
    }
}
