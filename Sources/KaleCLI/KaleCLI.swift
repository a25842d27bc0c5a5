public import ArgumentParser
import Foundation
public import Kale
import KaleRedis
import KaleWorker

/// Entry point for the `kale` executable and for a user's own worker executable.
///
/// ```swift
/// @main struct MyWorker {
///     static func main() async {
///         let registry = TaskRegistry()
///         registry.register(Thumbnail())
///         await KaleCLI.main(registry: registry)
///     }
/// }
/// ```
/// `MyWorker worker --concurrency 8` then runs those tasks; every other command works too, and
/// `MyWorker enqueue images.thumbnail` sends the task with its declared
/// ``Kale/TaskDefinition/defaultOptions`` (queue, retries, limits) for every flag left out.
public enum KaleCLI {
    /// The registry of the executable running the CLI: the tasks `worker` serves, and the
    /// defaults `enqueue` (and an in-process `dashboard`) apply to them.
    @TaskLocal package static var registry = TaskRegistry()
    /// Whether the built-in `kale.*` diagnostic tasks are served without `--diagnostics`.
    @TaskLocal static var diagnosticsByDefault = false

    /// Parses the process's arguments, runs the command and exits with its code.
    ///
    /// - Parameters:
    ///   - registry: the tasks `worker` serves; `enqueue` gives them their declared defaults.
    ///   - diagnosticsByDefault: serve `kale.noop`, `kale.echo` … without `--diagnostics`
    ///     (the stand-alone `kale` does; an embedding executable should not).
    ///   - commands: more subcommands of `kale`, such as `KaleDashboard.DashboardCommand`. One
    ///     named like a built-in command replaces it (the in-process `dashboard` replaces the
    ///     launcher that runs the `kale-full` binary).
    public static func main(registry: TaskRegistry, diagnosticsByDefault: Bool = false,
                            commands: [any ParsableCommand.Type] = [],
                            arguments: [String] = Array(CommandLine.arguments.dropFirst())) async -> Never {
        CommandRegistry.embed(commands)
        let code = await $registry.withValue(registry) {
            await $diagnosticsByDefault.withValue(diagnosticsByDefault) {
                await run(arguments)
            }
        }
        // Flushes what must not be lost at exit (a trace exporter's last spans).
        await ProcessExit.run()
        exit(code)
    }

    private static func run(_ arguments: [String]) async -> Int32 {
        var command: any ParsableCommand
        do {
            command = try KaleCommand.parseAsRoot(arguments)
        } catch {
            return report(error, arguments: arguments)
        }
        do {
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
            return 0
        } catch {
            return report(error, arguments: arguments)
        }
    }

    /// Prints an error as one line plus a hint, and returns the documented exit code.
    static func report(_ error: any Error, arguments: [String]) -> Int32 {
        let code = KaleCommand.exitCode(for: error)
        switch error {
        case let failure as CLIFailure:
            printError(failure.message, hint: failure.hint)
            return failure.exitCode
        case let e as RedisError where e.isConnectionFailure || e.code == .authentication:
            printError("cannot reach Redis: \(e.detail)", hint: "check --redis or KALE_REDIS_URL, and that the server is running")
            return ExitCodes.redisUnreachable
        case let e as RedisError where e.code == .permission:
            printError(e.detail, hint: "`kale acl producer|worker|dashboard` prints the rules of each role (docs/acl.md)")
            return ExitCodes.failed
        case let e as RedisError:
            printError("Redis: \(e.detail)", hint: nil)
            return ExitCodes.failed
        case let e as KaleError:
            let usage = e.code == .invalidOptions || e.code == .payloadTooLarge
            printError(e.description, hint: usage ? "see '\(commandPath(arguments).path.joined(separator: " ")) --help'" : nil)
            return usage ? ExitCodes.usage : ExitCodes.failed
        default:
            break
        }
        if code == .success {
            // --help, --version: ArgumentParser's own text, as is.
            print(KaleCommand.fullMessage(for: error))
            return 0
        }
        var message = KaleCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
        message = message.replacingOccurrences(of: "Error: ", with: "")
        let (path, unknown) = commandPath(arguments)
        if let unknown, message.contains("'\(unknown)'") {
            message = "unknown command '\(unknown)'"
        }
        var hint = "see '\(path.joined(separator: " ")) --help'"
        if message.contains("<duration>") { hint = DurationArgument.formats + "; " + hint }
        printError(message, hint: hint)
        return ExitCodes.usage
    }

    /// The command names at the start of `arguments` (`kale dead purge`), and the first
    /// word where a subcommand was expected but none matched.
    static func commandPath(_ arguments: [String]) -> (path: [String], unknown: String?) {
        var path = ["kale"]
        var command: any ParsableCommand.Type = KaleCommand.self
        for word in arguments {
            let subcommands = command.configuration.subcommands
            guard !subcommands.isEmpty, !word.hasPrefix("-") else { break }
            guard let next = subcommands.first(where: { $0._commandName == word }) else {
                // A word after a command with a default subcommand may be an argument of that default.
                return (path, command.configuration.defaultSubcommand == nil ? word : nil)
            }
            path.append(word)
            command = next
        }
        return (path, nil)
    }

    static func printError(_ message: String, hint: String?) {
        var text = "kale: error: \(message)\n"
        if let hint { text += "hint: \(hint)\n" }
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// The exit codes every command uses (documented in docs/cli.md).
public enum ExitCodes {
    public static let ok: Int32 = 0
    /// A task failed, was not found, or did not finish in time.
    public static let failed: Int32 = 1
    /// Bad arguments: unknown command or flag, invalid JSON or duration, missing --yes.
    public static let usage: Int32 = 2
    /// Redis could not be reached (or refused the credentials).
    public static let redisUnreachable: Int32 = 3
}

/// An error a command reports to the user: one line, a hint, an exit code.
package struct CLIFailure: Error {
    package var message: String
    package var hint: String?
    package var exitCode: Int32

    package init(message: String, hint: String?, exitCode: Int32) {
        self.message = message
        self.hint = hint
        self.exitCode = exitCode
    }

    package static func usage(_ message: String, hint: String? = nil) -> CLIFailure {
        CLIFailure(message: message, hint: hint, exitCode: ExitCodes.usage)
    }

    /// A task failed, did not end in time, or an id named nothing: exit 1.
    static func failed(_ message: String, hint: String?) -> CLIFailure {
        CLIFailure(message: message, hint: hint, exitCode: ExitCodes.failed)
    }

    static func notFound(_ id: String) -> CLIFailure {
        failed("no task \(id) (never enqueued, or its result expired)", hint: "check the id, and --prefix or --queue if you use them")
    }
}

/// `kale`: the root command.
struct KaleCommand: AsyncParsableCommand {
    // Computed, so the commands an embedder passes to `main` are among the subcommands.
    static var configuration: CommandConfiguration { CommandConfiguration(
        commandName: "kale",
        abstract: "A distributed task queue for Swift on Redis.",
        discussion: """
        Examples:
          kale worker --queues default --concurrency 4
          kale enqueue kale.echo --args '{"hello":"world"}' --wait
          kale inspect --watch

        Exit codes: 0 ok, 1 a task failed or was not found, 2 usage error, 3 Redis unreachable.

        The Redis server comes from --redis, else KALE_REDIS_URL, else redis://127.0.0.1:6379. Commands that print data take --json (one object per line for lists). See docs/cli.md.
        """,
        version: "0.1.0",
        subcommands: CommandRegistry.all
    ) }
}
