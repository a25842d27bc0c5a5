import Foundation

/// One of Celery's glob `task_routes`: `media.*` → `swift`.
public struct CeleryRoute: Sendable, Hashable {
    public var pattern: String
    public var queue: String

    public init(pattern: String, queue: String) {
        self.pattern = pattern
        self.queue = queue
    }

    /// `pattern=queue`, as the CLI takes it; nil when malformed.
    public init?(parsing text: String) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        self.init(pattern: parts[0], queue: parts[1])
    }

    /// Glob match with `*` (any run of characters), as fnmatch on task names.
    public func matches(_ name: String) -> Bool {
        let pieces = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        guard pieces.count > 1 else { return name == pattern }
        guard name.hasPrefix(pieces[0]), name.hasSuffix(pieces[pieces.count - 1]),
              name.count >= pieces[0].count + pieces[pieces.count - 1].count else { return false }
        var rest = Substring(name.dropFirst(pieces[0].count).dropLast(pieces[pieces.count - 1].count))
        for piece in pieces.dropFirst().dropLast() where !piece.isEmpty {
            guard let r = rest.range(of: piece) else { return false }
            rest = rest[r.upperBound...]
        }
        return true
    }
}
