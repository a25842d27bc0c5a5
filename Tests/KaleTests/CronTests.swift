import Foundation
import Kale
import Testing

/// Milliseconds since 1970 of a literal ISO-8601 UTC instant (`2026-03-08T07:00:00Z`).
func instant(_ iso: String) -> Int64 {
    let date = try! Date(iso, strategy: .iso8601)
    return Int64((date.timeIntervalSince1970 * 1000).rounded())
}

/// An instant back as ISO-8601 UTC, so a failed table comparison reads as dates.
func iso(_ ms: Int64?) -> String {
    guard let ms else { return "nil" }
    return Date(timeIntervalSince1970: Double(ms) / 1000).formatted(.iso8601)
}

/// The `count` fires after `start`, each found from the one before, as ISO-8601 UTC.
func fires(_ cron: String, in zone: String, after start: String, count: Int) throws -> [String] {
    let expression = try CronExpression(parsing: cron)
    let tz = try #require(TimeZone(identifier: zone))
    var at = instant(start)
    var out: [String] = []
    for _ in 0..<count {
        guard let next = expression.nextFire(after: at, in: tz) else { out.append("nil"); break }
        out.append(iso(next))
        at = next
    }
    return out
}

/// Expected instants below were worked out by hand and checked with `TZ=<zone> date -d <instant>`,
/// never with the code under test.
@Suite struct CronTests {
    // MARK: parsing

    @Test(arguments: [
        ("* * * * *", "* * * * *"),
        ("0 9 * * MON-FRI", "0 9 * * 1-5"),
        ("0 9 * * mon-Fri", "0 9 * * 1-5"),
        ("*/15 * * * *", "*/15 * * * *"),
        ("0-30/10 * * * *", "0-30/10 * * * *"),
        ("5/15 * * * *", "5-59/15 * * * *"),
        ("0 0 1,15,31 * *", "0 0 1,15,31 * *"),
        ("0 0 1 JAN,jul,Dec *", "0 0 1 1,7,12 *"),
        ("0 0 1 jan-mar/2 *", "0 0 1 1-3/2 *"),
        ("0 0 * * 7", "0 0 * * 0"),
        ("0 0 * * 0,7", "0 0 * * 0"),
        ("0 0 * * 5-7", "0 0 * * 5-7"),
        ("0 0 * * SAT-SUN", "0 0 * * 6-7"),
        ("*/1 * * * *", "* * * * *"),
        ("00 09 * * *", "0 9 * * *"),
        ("  0   9\t* * *  ", "0 9 * * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@Daily", "0 0 * * *"),
        ("*/10 * * * * *", "*/10 * * * * *"),
        ("15 30 9 * * *", "15 30 9 * * *"),
        ("0 30 9 * * *", "30 9 * * *"),
    ])
    func parsesAndNormalises(text: String, normalised: String) throws {
        let expression = try CronExpression(parsing: text)
        #expect(expression.description == normalised)
        #expect(try CronExpression(parsing: expression.description) == expression, "the normalised text reads back")
    }

    @Test func spellingsOfTheSameScheduleAreEqual() throws {
        #expect(try CronExpression(parsing: "0 9 * * MON-FRI") == CronExpression(parsing: "0 9 * * 1-5"))
        #expect(try CronExpression(parsing: "@daily") == CronExpression(parsing: "0 0 * * *"))
        #expect(try CronExpression(parsing: "0 0 0 * * *") == CronExpression(parsing: "0 0 * * *"))
        #expect(try CronExpression(parsing: "0 0 * * *") != CronExpression(parsing: "0 0 * * 1"))
    }

    @Test(arguments: [
        ("0 25 * * *", "cron field 2 (hour) '25': out of range 0-23"),
        ("60 * * * *", "cron field 1 (minute) '60': out of range 0-59"),
        ("0 0 0 * *", "cron field 3 (day-of-month) '0': out of range 1-31"),
        ("0 0 * 13 *", "cron field 4 (month) '13': out of range 1-12"),
        ("0 0 * * 8", "cron field 5 (day-of-week) '8': out of range 0-7"),
        ("0 0 * * 1-9", "cron field 5 (day-of-week) '1-9': '9' is out of range 0-7"),
        ("61 * * * * *", "cron field 1 (second) '61': out of range 0-59"),
        ("0 0 25 * * *", "cron field 3 (hour) '25': out of range 0-23"),
        ("0 0 L * *", "cron field 3 (day-of-month) 'L': 'L' (last day of the month) is not supported"),
        ("0 0 * * 5L", "cron field 5 (day-of-week) '5L': 'L' (last weekday of the month) is not supported"),
        ("0 0 15W * *", "cron field 3 (day-of-month) '15W': 'W' (nearest weekday) is not supported"),
        ("0 0 * * MON#2", "cron field 5 (day-of-week) 'MON#2': '#' (nth weekday of the month) is not supported"),
        ("0 0 ? * MON", "cron field 3 (day-of-month) '?': '?' is not supported; use '*'"),
        ("*/0 * * * *", "cron field 1 (minute) '*/0': step '0' must be a whole number from 1 to 60"),
        ("0 0 * * */8", "cron field 5 (day-of-week) '*/8': step '8' must be a whole number from 1 to 7"),
        ("*/+5 * * * *", "cron field 1 (minute) '*/+5': step '+5' must be a whole number from 1 to 60"),
        ("*/5/2 * * * *", "cron field 1 (minute) '*/5/2': more than one '/'"),
        ("30-10 * * * *", "cron field 1 (minute) '30-10': range start 30 is after its end 10"),
        ("0 0 -5 * *", "cron field 3 (day-of-month) '-5': a number is missing"),
        ("0 0 * FOO *", "cron field 4 (month) 'FOO': not a number or month name (JAN-DEC)"),
        ("0 0 * MON *", "cron field 4 (month) 'MON': not a number or month name (JAN-DEC)"),
        ("0 0 * * MON-XYZ", "cron field 5 (day-of-week) 'MON-XYZ': 'XYZ' is not a number or day name (SUN-SAT)"),
        ("+5 * * * *", "cron field 1 (minute) '+5': not a number"),
        ("0 0 1,,2 * *", "cron field 3 (day-of-month) '1,,2': empty list item"),
        (
            "* * * *",
            "cron expression '* * * *': expected 5 fields (minute hour day-of-month month day-of-week) "
                + "or 6 with a leading second, got 4"
        ),
        (
            "* * * * * * *",
            "cron expression '* * * * * * *': expected 5 fields (minute hour day-of-month month "
                + "day-of-week) or 6 with a leading second, got 7"
        ),
        (
            "",
            "cron expression '': expected 5 fields (minute hour day-of-month month day-of-week) "
                + "or 6 with a leading second, got 0"
        ),
        (
            "@reboot",
            "cron alias '@reboot' is not supported; use @yearly, @annually, @monthly, @weekly, @daily, "
                + "@midnight or @hourly (for a fixed interval, use every)"
        ),
    ])
    func refusesBadInputNamingTheFieldAndWhy(text: String, message: String) {
        let error = #expect(throws: ScheduleError.self) { try CronExpression(parsing: text) }
        #expect(error?.code == .invalidCron)
        #expect(error?.message == message)
        #expect(error?.description == message)
    }

    // MARK: daylight saving

    /// `30 2 * * *`: on the spring day 02:30 does not exist and fires at the jump (03:00 local);
    /// on the fall day it fires once. New York repeats 01:00-02:00, so its 02:30 is single; Berlin
    /// repeats 02:00-03:00, so its 02:30 fires at the first (summer-time) occurrence only.
    @Test(arguments: [
        (
            "America/New_York", "2026-03-06T12:00:00Z",
            ["2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]
        ),
        (
            "America/New_York", "2026-10-30T12:00:00Z",
            ["2026-10-31T06:30:00Z", "2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z"]
        ),
        (
            "Europe/Berlin", "2026-03-27T12:00:00Z",
            ["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]
        ),
        (
            "Europe/Berlin", "2026-10-23T12:00:00Z",
            ["2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
        ),
    ])
    func fixedTimeFiresOnceOnEachDSTDay(zone: String, start: String, expected: [String]) throws {
        #expect(try fires("30 2 * * *", in: zone, after: start, count: 3) == expected)
    }

    /// New York's repeated time, 01:30, fires at its first (daylight-time) occurrence only, also
    /// when the search starts inside the repeated hour.
    @Test func fixedTimeInTheRepeatedHourFiresAtTheFirstOccurrence() throws {
        #expect(
            try fires("30 1 * * *", in: "America/New_York", after: "2026-10-30T12:00:00Z", count: 3)
                == ["2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"])
        // 06:10Z is 01:10 EST, in the second pass; 01:30 EST (06:30Z) already fired as EDT.
        #expect(
            try fires("30 1 * * *", in: "America/New_York", after: "2026-11-01T06:10:00Z", count: 1)
                == ["2026-11-02T06:30:00Z"])
        #expect(
            try fires("30 2 * * *", in: "Europe/Berlin", after: "2026-10-25T01:10:00Z", count: 1)
                == ["2026-10-26T01:30:00Z"])
    }

    /// A fixed hour with a minute list: every time the jump skips fires together, once.
    @Test func fixedHourTimesInTheGapFireOnceAtTheJump() throws {
        #expect(
            try fires("*/20 2 * * *", in: "America/New_York", after: "2026-03-08T06:30:00Z", count: 4)
                == ["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z", "2026-03-09T06:20:00Z", "2026-03-09T06:40:00Z"])
    }

    /// `*/30 * * * *` describes real time: the repeated hour fires in both of its real hours.
    @Test(arguments: [
        (
            "America/New_York", "2026-11-01T03:59:00Z",
            [
                "2026-11-01T04:00:00Z", "2026-11-01T04:30:00Z", "2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z",
                "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:30:00Z",
            ]
        ),
        (
            "Europe/Berlin", "2026-10-24T22:59:00Z",
            [
                "2026-10-24T23:00:00Z", "2026-10-24T23:30:00Z", "2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z",
                "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:30:00Z",
            ]
        ),
    ])
    func wildcardHourFiresInBothRealHoursOfAFallBack(zone: String, start: String, expected: [String]) throws {
        #expect(try fires("*/30 * * * *", in: zone, after: start, count: expected.count) == expected)
    }

    /// `0 * * * *` across spring forward: the missing local hour has no fire, nothing extra fires.
    @Test(arguments: [
        (
            "America/New_York", "2026-03-08T04:30:00Z",
            ["2026-03-08T05:00:00Z", "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"]
        ),
        (
            "Europe/Berlin", "2026-03-28T22:30:00Z",
            ["2026-03-28T23:00:00Z", "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"]
        ),
    ])
    func wildcardHourSkipsTheMissingHourOfASpringForward(zone: String, start: String, expected: [String]) throws {
        #expect(try fires("0 * * * *", in: zone, after: start, count: expected.count) == expected)
        // No 02:30 on the spring day: 01:30 EST is followed by 03:30 EDT.
        if zone == "America/New_York" {
            #expect(
                try fires("30 * * * *", in: zone, after: "2026-03-08T06:00:00Z", count: 2)
                    == ["2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z"])
        }
    }

    // MARK: days, months and seconds

    /// Consecutive fires from a start instant, for the calendar rules and the seconds field.
    @Test(arguments: [
        // The 31st skips 30-day months and February.
        (
            "0 0 31 * *", "UTC", "2026-01-01T00:00:00Z",
            [
                "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z",
                "2026-08-31T00:00:00Z", "2026-10-31T00:00:00Z", "2026-12-31T00:00:00Z", "2027-01-31T00:00:00Z",
            ]
        ),
        // 29 February waits for a leap year.
        ("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
        // Berlin is an hour ahead of UTC in winter: local midnight is 23:00Z the day before.
        ("0 0 29 2 *", "Europe/Berlin", "2026-01-01T00:00:00Z", ["2028-02-28T23:00:00Z"]),
        // Both day fields restricted: a day matches if either does (the 13th, or a Friday).
        (
            "0 0 13 * FRI", "UTC", "2026-01-01T00:00:00Z",
            [
                "2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z",
                "2026-01-23T00:00:00Z", "2026-01-30T00:00:00Z", "2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z",
                "2026-02-20T00:00:00Z", "2026-02-27T00:00:00Z", "2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z",
            ]
        ),
        // One wildcard day field: both must match, so the other decides alone.
        ("0 0 * * FRI", "UTC", "2026-01-01T00:00:00Z", ["2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"]),
        ("0 0 13 * *", "UTC", "2026-01-01T00:00:00Z", ["2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"]),
        // 2026-01-02 is a Friday; MON-FRI skips the weekend of the 3rd and 4th.
        (
            "0 9 * * MON-FRI", "Europe/Berlin", "2026-01-01T12:00:00Z",
            ["2026-01-02T08:00:00Z", "2026-01-05T08:00:00Z", "2026-01-06T08:00:00Z"]
        ),
        ("0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", ["2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"]),
        (
            "0 0 * * SAT-SUN", "UTC", "2026-01-01T00:00:00Z",
            ["2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-10T00:00:00Z"]
        ),
        ("0 12 1 jan-mar/2 *", "UTC", "2026-01-01T12:00:00Z", ["2026-03-01T12:00:00Z", "2027-01-01T12:00:00Z"]),
        (
            "*/10 * * * * *", "UTC", "2026-01-01T00:00:05Z",
            [
                "2026-01-01T00:00:10Z", "2026-01-01T00:00:20Z", "2026-01-01T00:00:30Z",
                "2026-01-01T00:00:40Z", "2026-01-01T00:00:50Z", "2026-01-01T00:01:00Z",
            ]
        ),
    ])
    func firesAtTheListedInstants(cron: String, zone: String, start: String, expected: [String]) throws {
        #expect(try fires(cron, in: zone, after: start, count: expected.count) == expected)
    }

    @Test func impossibleDateGivesUpWithNil() throws {
        let never = try CronExpression(parsing: "0 0 30 2 *")
        #expect(never.nextFire(after: instant("2026-01-01T00:00:00Z"), in: try #require(TimeZone(identifier: "UTC"))) == nil)
        let alsoNever = try CronExpression(parsing: "0 0 31 4,6,9,11 *")
        #expect(alsoNever.nextFire(after: 0, in: try #require(TimeZone(identifier: "Europe/Berlin"))) == nil)
    }

    // MARK: strictness and cost

    @Test func nextFireIsStrictlyAfter() throws {
        let daily = try CronExpression(parsing: "0 9 * * *")
        let utc = try #require(TimeZone(identifier: "UTC"))
        let nine = instant("2026-05-01T09:00:00Z")
        #expect(iso(daily.nextFire(after: nine, in: utc)) == "2026-05-02T09:00:00Z")
        #expect(iso(daily.nextFire(after: nine - 1, in: utc)) == "2026-05-01T09:00:00Z")
        #expect(iso(daily.nextFire(after: nine + 1, in: utc)) == "2026-05-02T09:00:00Z")
        // Before 1970 the whole-second rounding still goes forward.
        let everySecond = try CronExpression(parsing: "* * * * * *")
        #expect(everySecond.nextFire(after: -1500, in: utc) == -1000)
        #expect(everySecond.nextFire(after: -1000, in: utc) == 0)
    }

    /// 10,000 consecutive fires of `*/5 * * * *` in Berlin (across the fall-back), each exactly five
    /// real minutes after the last, well inside two seconds in a debug build.
    @Test func tenThousandConsecutiveFiresAreFast() throws {
        let expression = try CronExpression(parsing: "*/5 * * * *")
        let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
        var at = instant("2026-10-01T00:00:00Z")
        var gaps: Set<Int64> = []
        let elapsed = try ContinuousClock().measure {
            for _ in 0..<10_000 {
                let next = try #require(expression.nextFire(after: at, in: berlin))
                gaps.insert(next - at)
                at = next
            }
        }
        #expect(gaps == [300_000])
        #expect(iso(at) == "2026-11-04T17:20:00Z")
        #expect(elapsed < .seconds(2), "took \(elapsed)")
    }
}
