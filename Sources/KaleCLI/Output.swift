import Foundation
import Glibc
import Kale

/// Writes what commands print. Stdout carries data only; progress and notes go to stderr.
enum Output {
    /// One line on stdout. Control characters (but line feeds and tabs) are shown escaped:
    /// text a task supplied (its error message, a Celery exception) must not be able to drive
    /// the operator's terminal with escape sequences.
    static func line(_ text: String) {
        print(printable(text))
    }

    /// Text on stdout as it is: for the terminal sequences the CLI writes itself (a watch's
    /// redraw), around text already made ``printable(_:keepingNewlines:)``.
    static func raw(_ text: String) {
        print(text, terminator: "")
    }

    /// `text` with C0 controls (but `\n` and `\t`), DEL and C1 controls as `\u{…}`.
    static func printable(_ text: String, keepingNewlines: Bool = true) -> String {
        func isControl(_ u: Unicode.Scalar) -> Bool {
            if keepingNewlines && u == "\n" || u == "\t" { return false }
            return u.value < 0x20 || (0x7F...0x9F).contains(u.value)
        }
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            if isControl(u) { out.append(contentsOf: "\\u{\(String(u.value, radix: 16))}".unicodeScalars) } else { out.append(u) }
        }
        return String(out)
    }

    /// One JSON value as one line on stdout.
    static func json(_ value: JSONValue) {
        print(value.jsonString)
    }

    /// Text on stderr, unbuffered so it interleaves with progress redraws.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Pushes buffered stdout to the terminal (stdout is fully buffered when not a tty).
    static func flush() {
        // nil flushes every stream; naming `stdout` is a concurrency error in Swift 6.
        fflush(nil)
    }

    /// Whether stderr is a terminal (progress bars are drawn only then).
    static var stderrIsTerminal: Bool { isatty(2) == 1 }
}
