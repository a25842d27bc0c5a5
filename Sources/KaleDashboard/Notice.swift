/// The message an action's redirect asks its page to show (`?notice=requeued.3`). Only these
/// codes exist: a page never shows text from its URL, which anyone can link to.
struct Notice: Equatable, Sendable {
    enum Code: String, Sendable {
        case requeued
        case notRequeued = "not-requeued"
        case cancelled
        case cancelRequested = "cancel-requested"
        case cancelEnded = "cancel-ended"
        case deleted
    }

    var code: Code
    /// How many tasks, for `requeued` and `deleted` of the dead set.
    var count: Int?

    init(_ code: Code, count: Int? = nil) {
        self.code = code
        self.count = count
    }

    /// The notice a cancel's outcome (``KaleClient/cancel(id:queue:)``) gives.
    init(cancelOutcome outcome: String) {
        self.init(outcome == "cancelled" ? .cancelled : outcome == "requested" ? .cancelRequested : .cancelEnded)
    }

    /// Parses the query value; nil for anything that is not a known code.
    init?(query: String?) {
        guard let query else { return nil }
        let parts = query.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let code = Code(rawValue: String(parts[0])) else { return nil }
        if parts.count == 2 {
            guard let n = Int(parts[1]), n >= 0 else { return nil }
            self.init(code, count: n)
        } else {
            self.init(code)
        }
    }

    /// The query value.
    var query: String { code.rawValue + (count.map { ".\($0)" } ?? "") }

    var text: String {
        let tasks = count.map { " \($0) dead task\($0 == 1 ? "" : "s")" } ?? ""
        switch code {
        case .requeued: return "requeued" + tasks
        case .notRequeued: return "not requeued: the task is neither dead nor failed"
        case .cancelled: return "cancel: cancelled"
        case .cancelRequested: return "cancel: requested (the task is running)"
        case .cancelEnded: return "cancel: the task had already ended"
        case .deleted: return "deleted" + tasks
        }
    }
}
