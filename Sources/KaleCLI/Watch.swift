import Dispatch
import Foundation
import Glibc

/// `--watch`: prints a frame every second, clearing the terminal first, until Ctrl-C.
enum Watch {
    /// Runs until SIGINT or SIGTERM, which end the process with status 0.
    ///
    /// - Parameters:
    ///   - clearing: clear the screen before each frame (off for JSON, which streams one
    ///     snapshot per line instead). An empty frame is skipped.
    static func loop(clearing: Bool, frame: @escaping @Sendable () async throws -> String) async throws {
        let stop = stopOnSignals()
        defer { for s in stop { s.cancel() } }
        while true {
            let text = try await frame()
            if !text.isEmpty {
                // Home, overwrite each line, then clear what is left of an earlier, longer
                // frame: clearing the whole screen first would flicker.
                // The frame's own text is made printable first; only our sequences stay raw.
                let safe = Output.printable(text)
                let body = clearing
                    ? "\u{1B}[H" + safe.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\u{1B}[K\n") + "\u{1B}[K\u{1B}[J"
                    : safe
                Output.raw(body + "\n")
                Output.flush()
            }
            try await Task.sleep(for: .seconds(1))
        }
    }

    private static func stopOnSignals() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                Output.flush()
                exit(ExitCodes.ok)
            }
            source.resume()
            return source
        }
    }
}
