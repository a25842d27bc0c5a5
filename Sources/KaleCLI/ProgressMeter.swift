import Foundation
import KaleRedis
import Synchronization

/// Shows how many awaited tasks have ended, on stderr: a bar redrawn in place on a
/// terminal, a plain line at most once a second otherwise (logs, CI).
final class ProgressMeter: Sendable {
    enum Style { case bar, lines }

    private struct State {
        var done = 0
        var failed = 0
        var finished = false
        var end: ContinuousClock.Instant?
        var lastLine: ContinuousClock.Instant
        var lastLineDone = -1
    }

    let total: Int
    let style: Style
    private let start = ContinuousClock.now
    private let state: Mutex<State>

    init(total: Int, style: Style) {
        self.total = total
        self.style = style
        state = Mutex(State(lastLine: .now))
    }

    /// Counts one task as ended.
    func record(succeeded: Bool) {
        state.withLock {
            $0.done += 1
            if !succeeded { $0.failed += 1 }
        }
    }

    /// Ends ``run()`` after one last redraw, and stops the clock.
    func finish() {
        state.withLock {
            $0.finished = true
            $0.end = .now
        }
    }

    /// Redraws until ``finish()`` and cancellation, then prints the final state.
    func run() async {
        while !state.withLock({ $0.finished }) && !Task.isCancelled {
            draw(final: false)
            // Short steps so a plain line can come on time; cancellation cuts the sleep short.
            try? await Task.sleep(for: .milliseconds(100))
        }
        draw(final: true)
    }

    private func draw(final: Bool) {
        let now = ContinuousClock.now
        let elapsed = ((state.withLock { $0.end } ?? now) - start).seconds
        let (done, failed, due) = state.withLock { s -> (Int, Int, Bool) in
            let due = final || (now - s.lastLine >= .seconds(1) && s.done != s.lastLineDone)
            if due && style == .lines {
                s.lastLine = now
                s.lastLineDone = s.done
            }
            return (s.done, s.failed, due)
        }
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let failures = failed > 0 ? ", \(failed) did not succeed" : ""
        switch style {
        case .bar:
            let width = 30
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let percent = total > 0 ? 100 * done / total : 100
            var text = "\r\u{1B}[K[\(bar)] \(done)/\(total) \(percent)% \(String(format: "%.1f", rate))/s"
            text += final ? " in \(Format.duration(elapsed))" : " ETA \(eta(done: done, rate: rate))"
            Output.note(text + failures + (final ? "\n" : ""))
        case .lines:
            guard due else { return }
            if final {
                Output.note("done: \(done)/\(total) in \(Format.duration(elapsed)) (\(String(format: "%.1f", rate))/s)\(failures)\n")
            } else {
                Output.note("waiting: \(done)/\(total) done, \(String(format: "%.1f", rate))/s, ETA \(eta(done: done, rate: rate))\(failures)\n")
            }
        }
    }

    private func eta(done: Int, rate: Double) -> String {
        guard rate > 0 else { return "--" }
        return Format.duration(Double(total - done) / rate)
    }
}
