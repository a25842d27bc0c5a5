public import Foundation

extension CronExpression {
    /// How far ahead ``nextFire(after:in:)`` searches before it gives up: five years of 365.25
    /// days, in seconds.
    static let searchHorizon = 5 * 31_557_600
    /// The instants ``nextFire(after:in:)`` answers for: years 1 to 9999, in milliseconds.
    static let searchable: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999

    /// The first instant strictly after `ms` at which the schedule fires.
    ///
    /// The fields are matched against the wall clock of `zone`. The search skips months, days
    /// and hours that cannot match, so it costs a few time-zone lookups per call, not one per
    /// minute.
    ///
    /// Daylight-saving changes follow cron (Vixie and Debian): what matters is whether the hour
    /// field is a wildcard (written `*` or `*/n`).
    /// - A schedule with a fixed hour names a time of day, and fires once on each day it
    ///   matches. When clocks spring forward over its time (02:30 on a day that jumps from 02:00
    ///   to 03:00), it fires at the instant of the jump (03:00 local); several times in the gap
    ///   fire only once, together. When clocks fall back and its time occurs twice (01:30 on a
    ///   day that goes from 02:00 back to 01:00), it fires at the first occurrence only.
    /// - A schedule with a wildcard hour (`30 * * * *`, `*/15 * * * *`) describes real time: it
    ///   fires whenever the clock shows a matching time. The hour that spring forward removes
    ///   has no matching times (no 02:30 that day, nothing extra fires), and the hour that fall
    ///   back repeats fires twice, once in each real hour.
    ///
    /// - Parameters:
    ///   - ms: milliseconds since 1970-01-01T00:00:00Z; the result is later than this.
    ///   - zone: the zone whose wall clock the fields describe.
    /// - Returns: milliseconds since 1970 UTC (a whole second), or nil when nothing fires within
    ///   five years (`0 0 30 2 *` never does) or `ms` is outside the years 1 to 9999.
    public func nextFire(after ms: Int64, in zone: TimeZone) -> Int64? {
        guard Self.searchable.contains(ms) else { return nil }
        let (quotient, remainder) = ms.quotientAndRemainder(dividingBy: 1000)
        // Fires fall on whole seconds: the first candidate is the next whole second after ms.
        var t = Int(quotient) + (remainder < 0 ? 0 : 1)
        let limit = t + Self.searchHorizon
        let offsets = ZoneOffsets(zone: zone)
        let fixedHour = !hour.isWildcard
        // Local times below this already fired, before a fall-back set the clock back over them.
        var repeatedBefore = Int.min
        if fixedHour {
            // `t` may lie in an hour that is being repeated; the change began at most a day ago.
            var change = offsets.transition(after: t - 86_400)
            while let at = change, at < t {
                let before = offsets.offset(at - 1)
                if before > offsets.offset(at) { repeatedBefore = max(repeatedBefore, at + before) }
                change = offsets.transition(after: at)
            }
        }
        // One pass per stretch of constant offset, in which local time runs in step with real time.
        while t <= limit {
            let offset = offsets.offset(t)
            let end = min(offsets.transition(after: t) ?? limit + 1, limit + 1)
            if fixedHour {
                let before = offsets.offset(t - 1)
                // Spring forward: the times the clock skips fire once, at the jump.
                if before < offset, firstLocalMatch(from: t + before, before: t + offset) != nil { return Int64(t) * 1000 }
                // Fall back: the times the clock repeats fired in the stretch before.
                if before > offset { repeatedBefore = t + before }
            }
            if let local = firstLocalMatch(from: max(t + offset, repeatedBefore), before: end + offset) {
                return Int64(local - offset) * 1000
            }
            t = end
        }
        return nil
    }

    /// The first matching local time in `start..<end`, both in local seconds (wall-clock
    /// seconds counted from 1970-01-01 00:00 as if the zone had no offset).
    private func firstLocalMatch(from start: Int, before end: Int) -> Int? {
        guard start < end else { return nil }
        var day = start >= 0 ? start / 86_400 : (start - 86_399) / 86_400
        var secondOfDay = start - day * 86_400
        var (year, month, dayOfMonth) = CivilDate.date(days: day)
        while day * 86_400 < end {
            if !self.month.contains(month) {
                if let next = self.month.next(from: month + 1) {
                    month = next
                } else {
                    (year, month) = (year + 1, self.month.first)
                }
                dayOfMonth = 1
                day = CivilDate.days(year: year, month: month, day: 1)
                secondOfDay = 0
                continue
            }
            if matchesDay(dayOfMonth, weekday: CivilDate.weekday(days: day)),
                let time = nextTimeOfDay(atOrAfter: secondOfDay)
            {
                let local = day * 86_400 + time
                return local < end ? local : nil
            }
            day += 1
            secondOfDay = 0
            dayOfMonth += 1
            if dayOfMonth > CivilDate.daysInMonth(year: year, month: month) {
                dayOfMonth = 1
                (year, month) = month == 12 ? (year + 1, 1) : (year, month + 1)
            }
        }
        return nil
    }
}

/// A time zone's offsets and offset changes, in whole seconds since 1970 UTC.
private struct ZoneOffsets {
    let zone: TimeZone

    /// Seconds to add to UTC for the wall clock at instant `t`.
    func offset(_ t: Int) -> Int { zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t))) }

    /// The first instant after `t` at which the offset may change (Foundation reports every
    /// change in the tz database, not only DST), or nil when the zone has none ahead.
    func transition(after t: Int) -> Int? {
        guard let date = zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: TimeInterval(t))) else {
            return nil
        }
        let at = Int(date.timeIntervalSince1970.rounded())
        // Never go backwards, so the search always makes progress.
        return at > t ? at : t + 1
    }
}
