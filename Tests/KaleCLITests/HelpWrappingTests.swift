import ArgumentParser
import KaleDashboard
import Testing

@testable import KaleCLI

/// `kale <command> --help` at 80 columns, the width of a default terminal.
///
/// ArgumentParser wraps each line of a discussion to the width at its last space, with no
/// indent: prose is best left as one line per paragraph, and a line it has to break (an
/// example command) continues at column 0 as if it were prose.
@Suite struct HelpWrappingTests {
    static let columns = 80

    /// Every command's help as `kale … --help` renders it, with its path.
    static func pages() -> [(path: String, command: any ParsableCommand.Type, text: String)] {
        var pages: [(String, any ParsableCommand.Type, String)] = []
        func walk(_ command: any ParsableCommand.Type, path: String) {
            pages.append((path, command, KaleCommand.helpMessage(for: command, columns: columns)))
            for sub in command.configuration.subcommands { walk(sub, path: path + " " + sub._commandName) }
        }
        walk(KaleCommand.self, path: "kale")
        // The in-process dashboard of kale-full, which replaces the launcher there.
        pages.append(("kale-full dashboard", DashboardCommand.self, DashboardCommand.helpMessage(columns: columns)))
        return pages
    }

    /// Except the USAGE line: ArgumentParser never wraps its synopsis (it only shortens it to
    /// `<options>` past 12 options), so the terminal folds it; a hand-written usage per command
    /// would drift from the options.
    @Test func everyHelpLineFitsEightyColumns() {
        for page in Self.pages() {
            for line in page.text.split(separator: "\n") where line.count > Self.columns && !line.hasPrefix("USAGE: ") {
                Issue.record("\(page.path) --help: \(line.count) columns: \(line)")
            }
        }
    }

    /// An example or other indented line of a discussion is shown whole, on one line.
    @Test func exampleLinesAreNeverBroken() {
        for page in Self.pages() {
            let shown = Set(page.text.split(separator: "\n").map { String($0) })
            let indented = page.command.configuration.discussion.split(separator: "\n").filter { $0.hasPrefix("  ") }
            let broken = indented.map(String.init).filter { !shown.contains($0) }
            #expect(broken.isEmpty, "\(page.path) --help breaks \(broken)")
        }
    }

    /// A paragraph wrapped by hand breaks again wherever the terminal is narrower or wider.
    @Test func proseParagraphsAreSingleLinesForTheParserToWrap() {
        for page in Self.pages() {
            let lines = page.command.configuration.discussion.split(separator: "\n", omittingEmptySubsequences: false)
            for (line, next) in zip(lines, lines.dropFirst()) where !line.isEmpty && !line.hasPrefix(" ") {
                #expect(next.isEmpty || next.hasPrefix("  "), "\(page.path): a paragraph continues on the next line: \(line)")
            }
        }
    }
}
