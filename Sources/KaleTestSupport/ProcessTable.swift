import Foundation
public import Glibc

/// What `/proc` says about processes: who a worker's children and grandchildren are, their
/// command lines, and whether one has gone. For tests that must look at real processes.
public enum ProcessTable {
    /// The processes whose parent is `pid`.
    public static func children(of pid: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { stat($0)?.parent == pid }
    }

    /// The arguments `pid` was started with (`/proc/PID/cmdline`), nil once it has gone.
    public static func commandLine(_ pid: pid_t) -> [String]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether `pid` no longer runs: reaped, or a zombie nobody has reaped yet.
    public static func isGone(_ pid: pid_t) -> Bool {
        guard let s = stat(pid) else { return true }
        return s.state == "Z" || s.state == "X"
    }

    /// Whether `pid` has been reaped by its parent (a zombie still counts as present).
    public static func isReaped(_ pid: pid_t) -> Bool { stat(pid) == nil }

    /// State letter and parent from `/proc/PID/stat`.
    private static func stat(_ pid: pid_t) -> (state: Character, parent: pid_t)? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        // The command name sits in parentheses and may itself contain spaces or ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let state = fields[0].first, let parent = pid_t(fields[1]) else { return nil }
        return (state, parent)
    }
}
