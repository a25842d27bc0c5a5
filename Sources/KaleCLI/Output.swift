import Foundation
import Glibc
import Kale

/// Writes what commands print. Stdout carries data only; progress and notes go to stderr.
enum Output {
    /// One line on stdout.
    static func line(_ text: String) {
        print(text)
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
