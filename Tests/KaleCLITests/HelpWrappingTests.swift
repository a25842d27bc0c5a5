import ArgumentParser
import Testing

@testable import KaleCLI

/// `kale <command> --help` at 80 columns, the width of a default terminal, by the rules of
/// `HelpLayout` (kale-full's in-process dashboard is checked by `kale-dashboard-checks`, so
/// this bundle does not link the dashboard's HTTP server).
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
        return pages
    }

    @Test func everyHelpPageFitsEightyColumnsWithExamplesWholeAndParagraphsUnwrapped() {
        let pages = Self.pages()
        #expect(pages.count > 20, "every command was walked")
        for page in pages {
            for problem in HelpLayout.problems(path: page.path, command: page.command, text: page.text, columns: Self.columns) {
                Issue.record("\(problem)")
            }
        }
    }

    /// The rules themselves: each catches what it is for.
    @Test func theRulesCatchALongLineABrokenExampleAndAWrappedParagraph() {
        struct Bad: ParsableCommand {
            static let configuration = CommandConfiguration(discussion: """
                A paragraph wrapped
                by hand.

                  kale enqueue an.example --args '{"a": 1}'
                """)
        }
        let text = "USAGE: bad\n" + String(repeating: "x", count: 81) + "\nkale enqueue an.example\n--args '{\"a\": 1}'\n"
        let problems = HelpLayout.problems(path: "bad", command: Bad.self, text: text, columns: 80)
        #expect(problems.contains { $0.contains("81 columns") })
        #expect(problems.contains { $0.contains("breaks the example line") })
        #expect(problems.contains { $0.contains("a paragraph continues") })
    }
}
