/// The text form of a schedule's interval: `30s`, `5m`, `2h`, `1d`, `1h30m`, `1s500ms`.
///
/// Units go from the largest to the smallest, each at most once, so `30s5m` (a likely typo)
/// is refused rather than summed; a bare number is seconds, as in the CLI's duration flags.
enum IntervalText {
    /// The shortest interval: a schedule that fires faster is a busy loop, not a schedule.
    static let minimumMilliseconds: Int64 = 1000
    /// The longest interval, ten years of 365.25 days: more is a typo (the CLI's limit too).
    static let maximumMilliseconds: Int64 = 315_576_000_000

    private static let units: [(name: String, ms: Int64)] = [
        ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1),
    ]

    /// The interval `text` stands for, in milliseconds.
    ///
    /// `minimum`: the shortest accepted (a schedule's 1 s; a rate limit's period may be 1 ms).
    /// - Throws: ``ScheduleError`` (`.invalidInterval`) for bad syntax, under `minimum` or over 10 years.
    static func milliseconds(_ text: String, minimum: Int64 = minimumMilliseconds) throws -> Int64 {
        func fail(_ why: String) -> ScheduleError { ScheduleError(.invalidInterval, "interval '\(text)': \(why)") }
        var chars = Array(text.drop(while: \.isWhitespace))
        while chars.last?.isWhitespace == true { chars.removeLast() }
        guard !chars.isEmpty else { throw fail("empty; write it like 30s, 5m, 2h, 1d or 1h30m") }
        var total: Int64 = 0
        var nextUnit = 0
        var i = 0
        while i < chars.count {
            var number: Int64 = 0
            let digitsStart = i
            while i < chars.count, chars[i].isASCII, let digit = chars[i].wholeNumberValue {
                let (times10, o1) = number.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(Int64(digit))
                guard !o1, !o2 else { throw fail("longer than the maximum of 10 years") }
                number = sum
                i += 1
            }
            let unitStart = i
            while i < chars.count, chars[i].isLetter { i += 1 }
            let unit = String(chars[unitStart..<i])
            if unit.isEmpty && i < chars.count { throw fail("'\(chars[i])' is not a digit or unit") }
            if digitsStart == unitStart { throw fail("a number is missing before '\(unit)'") }
            let scale: Int64
            if unit.isEmpty {
                // A bare number is seconds, but only on its own: `1h30` is more likely a typo.
                guard digitsStart == 0, i == chars.count else { throw fail("a unit is missing after \(number)") }
                scale = 1000
            } else {
                guard let index = units.firstIndex(where: { $0.name == unit }) else {
                    throw fail("unknown unit '\(unit)'; use d, h, m, s or ms")
                }
                guard index >= nextUnit else { throw fail("units go from largest to smallest, each once (d h m s ms)") }
                nextUnit = index + 1
                scale = units[index].ms
            }
            let (part, o1) = number.multipliedReportingOverflow(by: scale)
            let (sum, o2) = total.addingReportingOverflow(part)
            guard !o1, !o2, sum <= maximumMilliseconds else { throw fail("longer than the maximum of 10 years") }
            total = sum
        }
        guard total >= minimum else { throw fail("shorter than the minimum of \(Self.text(milliseconds: minimum))") }
        return total
    }

    /// `ms` as the largest units that divide it, in the form ``milliseconds(_:)`` reads back.
    static func text(milliseconds ms: Int64) -> String {
        guard ms > 0 else { return "\(ms)ms" }
        var rest = ms
        var text = ""
        for unit in units where rest >= unit.ms {
            text += "\(rest / unit.ms)\(unit.name)"
            rest %= unit.ms
        }
        return text
    }
}
