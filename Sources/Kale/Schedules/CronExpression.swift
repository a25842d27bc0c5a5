/// A cron schedule: the local wall-clock times at which something fires.
///
/// Five fields, `minute hour day-of-month month day-of-week`, or six with a leading `second`
/// field. Each field is a comma list of `*`, `a`, `a-b`, `*/n`, `a-b/n` and `a/n` (from `a` to the
/// field's end, every `n`). Months may be written `JAN`-`DEC` and days `SUN`-`SAT`, in any case;
/// day-of-week takes 0-7 with both 0 and 7 meaning Sunday (`SAT-SUN` is Saturday and Sunday).
/// The aliases `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and
/// `@hourly` stand for their five-field forms.
///
/// As in Vixie cron, when both day fields are restricted (neither is written `*` or `*/n`), a
/// day matches if *either* matches: `0 0 13 * FRI` fires on every 13th and on every Friday.
///
/// Quartz extensions (`L`, `W`, `#`, `?`) are refused rather than misread. Two expressions are
/// equal when their normalised texts (``description``) are.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    let second: CronField
    let minute: CronField
    let hour: CronField
    let dayOfMonth: CronField
    let month: CronField
    let dayOfWeek: CronField

    /// The normalised text: aliases expanded, names and leading zeros turned into plain
    /// numbers, Sunday written 0, steps of 1 dropped, `a/n` written `a-end/n`, and a seconds
    /// field of `0` left out. Parsing it gives back an equal expression.
    public let description: String

    private static let aliases: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// Parses a cron expression.
    ///
    /// - Parameter text: five fields, six with leading seconds, or an alias such as `@daily`.
    /// - Throws: ``ScheduleError`` (`.invalidCron`) whose message names the field and why, e.g.
    ///   `cron field 2 (hour) '25': out of range 0-23`.
    public init(parsing text: String) throws {
        var fields = text.split(whereSeparator: \.isWhitespace).map(String.init)
        if fields.count == 1, fields[0].hasPrefix("@") {
            guard let expanded = Self.aliases[fields[0].lowercased()] else {
                throw ScheduleError(
                    .invalidCron,
                    "cron alias '\(fields[0])' is not supported; use @yearly, @annually, "
                        + "@monthly, @weekly, @daily, @midnight or @hourly (for a fixed interval, use every)")
            }
            fields = expanded.split(separator: " ").map(String.init)
        }
        guard fields.count == 5 || fields.count == 6 else {
            throw ScheduleError(
                .invalidCron,
                "cron expression '\(text)': expected 5 fields (minute hour day-of-month "
                    + "month day-of-week) or 6 with a leading second, got \(fields.count)")
        }
        let hasSeconds = fields.count == 6
        let kinds: [CronFieldKind] = (hasSeconds ? [.second] : []) + [.minute, .hour, .dayOfMonth, .month, .dayOfWeek]
        var parsed: [CronField] = []
        for (i, (field, kind)) in zip(fields, kinds).enumerated() {
            parsed.append(try kind.parse(field, position: i + 1))
        }
        if !hasSeconds { parsed.insert(CronField(bits: 1, isWildcard: false, text: "0"), at: 0) }
        (second, minute, hour, dayOfMonth, month, dayOfWeek) = (parsed[0], parsed[1], parsed[2], parsed[3], parsed[4], parsed[5])
        description = parsed.dropFirst(second.text == "0" ? 1 : 0).map(\.text).joined(separator: " ")
    }

    /// Whether the schedule fires on this day of an allowed month (`weekday` 0 is Sunday), by
    /// the Vixie rule.
    func matchesDay(_ day: Int, weekday: Int) -> Bool {
        let byDate = dayOfMonth.contains(day), byWeekday = dayOfWeek.contains(weekday)
        return dayOfMonth.isWildcard || dayOfWeek.isWildcard ? byDate && byWeekday : byDate || byWeekday
    }

    /// The first allowed time of day at or after `secondOfDay`, in seconds since local midnight.
    func nextTimeOfDay(atOrAfter secondOfDay: Int) -> Int? {
        let h = secondOfDay / 3600, m = secondOfDay / 60 % 60, s = secondOfDay % 60
        if hour.contains(h) {
            if minute.contains(m), let next = second.next(from: s) { return h * 3600 + m * 60 + next }
            if let next = minute.next(from: m + 1) { return h * 3600 + next * 60 + second.first }
        }
        guard let next = hour.next(from: h + 1) else { return nil }
        return next * 3600 + minute.first * 60 + second.first
    }
}
