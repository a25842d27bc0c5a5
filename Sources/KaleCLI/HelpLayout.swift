package import ArgumentParser

/// The rules a command's `--help` page keeps at a width, checked for every command by the
/// tests and for kale-full's in-process dashboard by `kale-dashboard-checks`.
///
/// ArgumentParser wraps each line of a discussion to the width at its last space, with no
/// indent: prose is best left as one line per paragraph, and a line it has to break (an
/// example command) continues at column 0 as if it were prose.
package enum HelpLayout {
    /// What is wrong with `text`, the help of `command` rendered at `columns`; empty when nothing.
    package static func problems(path: String, command: any ParsableCommand.Type, text: String, columns: Int) -> [String] {
        var problems: [String] = []
        // Except the USAGE line: ArgumentParser never wraps its synopsis (it only shortens it
        // to `<options>` past 12 options), so the terminal folds it; a hand-written usage per
        // command would drift from the options.
        for line in text.split(separator: "\n") where line.count > columns && !line.hasPrefix("USAGE: ") {
            problems.append("\(path) --help: \(line.count) columns: \(line)")
        }
        // An example or other indented line of a discussion is shown whole, on one line.
        let shown = Set(text.split(separator: "\n").map { String($0) })
        let discussion = command.configuration.discussion
        for line in discussion.split(separator: "\n") where line.hasPrefix("  ") && !shown.contains(String(line)) {
            problems.append("\(path) --help breaks the example line: \(line)")
        }
        // A paragraph wrapped by hand breaks again wherever the terminal is narrower or wider.
        let lines = discussion.split(separator: "\n", omittingEmptySubsequences: false)
        for (line, next) in zip(lines, lines.dropFirst()) where !line.isEmpty && !line.hasPrefix(" ") {
            if !next.isEmpty && !next.hasPrefix("  ") { problems.append("\(path): a paragraph continues on the next line: \(line)") }
        }
        return problems
    }
}
