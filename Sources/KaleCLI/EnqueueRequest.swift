import ArgumentParser
import Foundation
package import Kale

/// An enqueue described in `kale enqueue`'s own arguments and checked by its code, for a front
/// end that is not a shell: the dashboard's `POST /api/tasks` maps its JSON onto these
/// arguments, so both accept and refuse exactly the same input.
package struct EnqueueRequest: Sendable {
    package var name: String
    package var args: JSONValue
    package var options: EnqueueOptions

    /// Why the arguments were refused: `kale enqueue`'s own one-line message.
    package struct Invalid: Error, CustomStringConvertible {
        package var message: String
        package var description: String { message }
    }

    /// Parses and validates `arguments` (as after `kale enqueue`); `--celery`, `--count`,
    /// `--wait` and `--args-file` are the caller's to leave out.
    ///
    /// - Parameters:
    ///   - arguments: `kale enqueue`'s arguments.
    ///   - registry: the tasks of the executable serving the request; a task registered there
    ///     gets its declared defaults for what the arguments leave unset, as in `kale enqueue`.
    /// - Throws: ``Invalid`` with the message `kale enqueue` prints.
    package init(arguments: [String], registry: TaskRegistry) throws {
        let command: EnqueueCommand
        do { command = try EnqueueCommand.parse(arguments) }
        catch {
            var text = EnqueueCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            // The CLI gives this as a hint line; an API caller gets one message.
            if text.contains("<duration>") { text += ": " + DurationArgument.formats }
            throw Invalid(message: text.replacingOccurrences(of: "Error: ", with: ""))
        }
        do { args = try command.loadArgs() }
        catch let failure as CLIFailure { throw Invalid(message: failure.message) }
        name = command.name
        options = command.enqueueOptions(defaults: registry)
    }
}
