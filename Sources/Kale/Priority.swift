/// How urgent a task is within its queue: strictly, every `high` task is fetched before any
/// `normal` one, and every `normal` before any `low`.
public enum Priority: String, Sendable, Codable, CaseIterable, Comparable {
    case high, normal, low

    /// The index of the pending list that holds this priority (0 is fetched first).
    public var rank: Int {
        switch self {
        case .high: return 0
        case .normal: return 1
        case .low: return 2
        }
    }

    public static func < (a: Priority, b: Priority) -> Bool { a.rank > b.rank }
}
