import Foundation

/// A periodic task: which task to enqueue, with what input, on which queue, and when.
///
/// Stored in Redis (``Keys/schedules``) and fired by the schedule leader among the workers
/// (docs/schedules.md), exactly once per tick.
public struct ScheduleDefinition: Sendable, Hashable {
    /// The schedule's name: 1-100 letters, digits, `.`, `_`, `-` or `:`. Part of each tick's
    /// task id (`<name>@<tick>`).
    public var name: String
    /// The registered task name to enqueue.
    public var task: String
    public var timing: ScheduleTiming
    /// The task's input on every tick.
    public var args: JSONValue
    /// The queue the ticks go to; the task's registered default when made with a registry.
    public var queue: String
    /// What to do with ticks that passed while no worker was alive to fire them.
    public var catchUp: CatchUp
    /// A paused schedule fires nothing; the ticks it misses are never fired.
    public var paused: Bool
    /// Ticks at or before this time (ms since 1970) are never fired: the moment the schedule
    /// was made, changed or resumed.
    public var since: Int64
    public var origin: DefinitionOrigin

    /// Missed ticks: those older than the leader's lease when it looks (younger ones are a
    /// leader handing over, and all fire).
    public enum CatchUp: String, Sendable, Hashable, Codable, CaseIterable {
        /// Skip them.
        case none
        /// Fire one late run for all of them.
        case one
    }

    public init(name: String, task: String, timing: ScheduleTiming, args: JSONValue = .object([:]), queue: String = "default",
                catchUp: CatchUp = .none, paused: Bool = false, since: Int64 = Broker.now(), origin: DefinitionOrigin = .runtime) {
        self.name = name
        self.task = task
        self.timing = timing
        self.args = args
        self.queue = queue
        self.catchUp = catchUp
        self.paused = paused
        self.since = since
        self.origin = origin
    }

    /// Checks the name, the task and the queue.
    /// - Throws: ``KaleError`` `.invalidOptions`.
    public func validate() throws {
        guard !name.isEmpty, name.utf8.count <= 100, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-:".contains($0)) })
        else { throw KaleError(.invalidOptions, detail: "schedule name '\(name)' must be 1-100 letters, digits, '.', '_', '-' or ':'") }
        guard !task.isEmpty, task.utf8.count <= 200, !task.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw KaleError(.invalidOptions, detail: "task name must be 1-200 bytes without control characters") }
        try KaleClient.checkQueueName(queue)
    }

    /// The id of the task of the tick at `tick` (ms): the same for every worker that fires
    /// it, so a retried fire finds its own task.
    public func taskID(tick: Int64) -> String {
        "\(name)@\(Self.tickText(tick))"
    }

    /// A tick as ISO 8601 UTC, with milliseconds only when it has some.
    static func tickText(_ tick: Int64) -> String {
        let seconds = Int(tick.quotientAndRemainder(dividingBy: 1000).quotient)
        let ms = Int(tick % 1000)
        var text = Date(timeIntervalSince1970: Double(seconds)).formatted(.iso8601)
        if ms != 0 {
            text.removeLast()
            text += "." + String(String(ms + 1000).dropFirst()) + "Z"
        }
        return text
    }

    /// Whether the two fire the same task at the same times (what a change must bump
    /// ``since`` for), paused state and bookkeeping aside.
    public func firesLike(_ other: ScheduleDefinition) -> Bool {
        task == other.task && timing == other.timing && args == other.args && queue == other.queue && catchUp == other.catchUp
    }
}
