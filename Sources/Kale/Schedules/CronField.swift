/// One parsed field of a ``CronExpression``: the values it allows and its normalised text.
struct CronField: Sendable, Hashable {
    /// Bit `n` is set when value `n` is allowed (day-of-week 7 is folded into 0).
    let bits: UInt64
    /// The field was written `*` or `*/n`. Cron gives such fields two meanings beyond their
    /// values: a wildcard day field turns the day-of-month/day-of-week OR rule off, and a
    /// wildcard hour makes the schedule follow real time across DST changes.
    let isWildcard: Bool
    /// The field as ``CronExpression/description`` writes it.
    let text: String

    func contains(_ value: Int) -> Bool { bits & (1 << UInt64(value)) != 0 }

    /// The smallest allowed value that is at least `value`.
    func next(from value: Int) -> Int? {
        guard value < 64 else { return nil }
        let above = bits & ~((1 << UInt64(value)) - 1)
        return above == 0 ? nil : above.trailingZeroBitCount
    }

    /// The smallest allowed value; every field allows at least one.
    var first: Int { bits.trailingZeroBitCount }
}

/// What one position of a cron expression accepts, and how to read a field written there.
struct CronFieldKind: Sendable {
    let name: String
    /// The values a number may take.
    let range: ClosedRange<Int>
    /// What `*` and the open end of `a/n` cover: day-of-week accepts 7 for Sunday, but `*/2`
    /// and `1/2` stop at Saturday so Sunday is not counted twice.
    let span: ClosedRange<Int>
    /// Names for values, upper case, the first standing for `span.lowerBound`.
    let names: [String]
    let namesHint: String

    static let second = CronFieldKind(name: "second", range: 0...59, span: 0...59, names: [], namesHint: "")
    static let minute = CronFieldKind(name: "minute", range: 0...59, span: 0...59, names: [], namesHint: "")
    static let hour = CronFieldKind(name: "hour", range: 0...23, span: 0...23, names: [], namesHint: "")
    static let dayOfMonth = CronFieldKind(name: "day-of-month", range: 1...31, span: 1...31, names: [], namesHint: "")
    static let month = CronFieldKind(
        name: "month", range: 1...12, span: 1...12,
        names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
        namesHint: " or month name (JAN-DEC)")
    static let dayOfWeek = CronFieldKind(
        name: "day-of-week", range: 0...7, span: 0...6, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
        namesHint: " or day name (SUN-SAT)")

    private var isDayOfWeek: Bool { range == 0...7 }
    private var isDayOfMonth: Bool { range == 1...31 }

    /// Plain decimal digits only: `Int("+5")` would accept a sign.
    private static func number(_ text: Substring) -> Int? {
        text.allSatisfy(\.isASCIIDigit) ? Int(text) : nil
    }

    /// Reads one field; `position` is its 1-based place in the text, for messages.
    ///
    /// - Throws: ``ScheduleError`` (`.invalidCron`) naming the field, the bad item and why.
    func parse(_ field: String, position: Int) throws -> CronField {
        func fail(_ quoted: some StringProtocol, _ why: String) -> ScheduleError {
            ScheduleError(.invalidCron, "cron field \(position) (\(name)) '\(quoted)': \(why)")
        }
        let items = field.split(separator: ",", omittingEmptySubsequences: false)
        var bits: UInt64 = 0
        var texts: [String] = []
        for item in items {
            guard !item.isEmpty else { throw fail(field, "empty list item") }
            let (itemBits, text) = try parseItem(item) { fail(item, $0) }
            bits |= itemBits
            // `0,7` is Sunday twice: say it once.
            if !texts.contains(text) { texts.append(text) }
        }
        let wildcard = items.count == 1 && (items[0] == "*" || items[0].hasPrefix("*/"))
        return CronField(bits: bits, isWildcard: wildcard, text: texts.joined(separator: ","))
    }

    /// One list item: `*`, `*/n`, `a`, `a-b`, `a-b/n` or `a/n` (a through the end, step n).
    private func parseItem(_ item: Substring, fail: (String) -> ScheduleError) throws -> (UInt64, String) {
        if item.contains("?") { throw fail("'?' is not supported; use '*'") }
        if item.contains("#") { throw fail("'#' (nth weekday of the month) is not supported") }
        let parts = item.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw fail("more than one '/'") }
        var step = 1
        if parts.count == 2 {
            guard let n = Self.number(parts[1]), (1...span.count).contains(n) else {
                throw fail("step '\(parts[1])' must be a whole number from 1 to \(span.count)")
            }
            step = n
        }
        let base = parts[0]
        let low: Int, high: Int, text: String
        if base == "*" {
            (low, high) = (span.lowerBound, span.upperBound)
            text = "*"
        } else if let dash = base.firstIndex(of: "-") {
            low = try value(base[..<dash], in: item, fail: fail)
            var end = try value(base[base.index(after: dash)...], in: item, fail: fail)
            // SAT-SUN reads naturally; Sunday as 7 makes it the range 6-7.
            if isDayOfWeek && end == 0 && low > 0 { end = 7 }
            guard low <= end else { throw fail("range start \(low) is after its end \(end)") }
            high = end
            text = low == high ? "\(low)" : "\(low)-\(high)"
        } else {
            low = try value(base, in: item, fail: fail)
            high = parts.count == 2 ? max(low, span.upperBound) : low
            text = parts.count == 2 && low != high ? "\(low)-\(high)" : "\(isDayOfWeek && low == 7 ? 0 : low)"
        }
        var bits: UInt64 = 0
        for v in stride(from: low, through: high, by: step) { bits |= 1 << UInt64(isDayOfWeek && v == 7 ? 0 : v) }
        return (bits, step > 1 && low != high ? "\(text)/\(step)" : text)
    }

    /// A number or a name, checked against ``range``.
    private func value(_ token: Substring, in item: Substring, fail: (String) -> ScheduleError) throws -> Int {
        let about = token == item ? "" : "'\(token)' is "
        if !token.isEmpty, token.allSatisfy(\.isASCIIDigit) {
            guard let n = Self.number(token), range.contains(n) else {
                throw fail("\(about)out of range \(range.lowerBound)-\(range.upperBound)")
            }
            return n
        }
        if let i = names.firstIndex(of: token.uppercased()) { return span.lowerBound + i }
        if token.isEmpty { throw fail("a number is missing") }
        let upper = token.uppercased()
        if isDayOfMonth || isDayOfWeek {
            if upper.hasSuffix("L") {
                throw fail("'L' (last \(isDayOfWeek ? "weekday" : "day") of the month) is not supported")
            }
            if upper.hasSuffix("W") && !isDayOfWeek { throw fail("'W' (nearest weekday) is not supported") }
        }
        throw fail("\(about)not a number\(namesHint)")
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { asciiValue.map { (48...57).contains($0) } ?? false }
}
