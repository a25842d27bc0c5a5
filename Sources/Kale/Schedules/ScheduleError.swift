/// A schedule's text was refused: a bad cron field, an unknown time zone, a bad interval.
///
/// ``message`` is one line that names the offending part and why, ready for a CLI to print:
/// `cron field 2 (hour) '25': out of range 0-23`.
public struct ScheduleError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which kind of text was refused; new codes may be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let value: String
        fileprivate init(_ value: String) { self.value = value }

        /// The cron expression is malformed (field count, syntax, range, unsupported feature).
        public static let invalidCron = Code("invalid cron expression")
        /// The time zone is not an identifier Foundation knows (`Europe/Berlin`, `UTC`).
        public static let unknownTimeZone = Code("unknown time zone")
        /// The interval text is malformed, under one second, or over ten years.
        public static let invalidInterval = Code("invalid interval")

        public var description: String { value }
    }

    /// Which kind of text was refused.
    public var code: Code
    /// One line naming the bad part and why.
    public var message: String

    /// Creates an error; `message` should name the offending part and say why it was refused.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
