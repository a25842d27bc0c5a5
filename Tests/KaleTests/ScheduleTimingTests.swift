import Foundation
import Kale
import Testing

/// Interval ticks and the JSON form; expected instants are literal (see ``CronTests``).
@Suite struct ScheduleTimingTests {
    // MARK: parsing

    @Test(
        arguments: [
            ("30s", 30_000), ("5m", 300_000), ("2h", 7_200_000), ("1d", 86_400_000), ("1h30m", 5_400_000),
            ("1s500ms", 1500), ("1500ms", 1500), ("2d12h", 216_000_000), ("90", 90_000), (" 45s ", 45_000),
        ] as [(String, Int64)])
    func readsIntervals(text: String, ms: Int64) throws {
        #expect(try ScheduleTiming(every: text) == .every(.milliseconds(ms)))
    }

    @Test(arguments: [
        ("250ms", "interval '250ms': shorter than the minimum of 1s"),
        ("0s", "interval '0s': shorter than the minimum of 1s"),
        ("", "interval '': empty; write it like 30s, 5m, 2h, 1d or 1h30m"),
        ("5x", "interval '5x': unknown unit 'x'; use d, h, m, s or ms"),
        ("5M", "interval '5M': unknown unit 'M'; use d, h, m, s or ms"),
        ("30s5m", "interval '30s5m': units go from largest to smallest, each once (d h m s ms)"),
        ("1h1h", "interval '1h1h': units go from largest to smallest, each once (d h m s ms)"),
        ("m", "interval 'm': a number is missing before 'm'"),
        ("1h30", "interval '1h30': a unit is missing after 30"),
        ("1.5s", "interval '1.5s': '.' is not a digit or unit"),
        ("-5s", "interval '-5s': '-' is not a digit or unit"),
        ("3653d", "interval '3653d': longer than the maximum of 10 years"),
        ("99999999999999999999s", "interval '99999999999999999999s': longer than the maximum of 10 years"),
    ])
    func refusesBadIntervals(text: String, message: String) {
        let error = #expect(throws: ScheduleError.self) { try ScheduleTiming(every: text) }
        #expect(error?.code == .invalidInterval)
        #expect(error?.message == message)
    }

    @Test func cronDefaultsToUTCAndChecksTheZone() throws {
        #expect(try ScheduleTiming(cron: "@daily", timeZone: nil) == .cron(CronExpression(parsing: "0 0 * * *"), timeZone: "UTC"))
        #expect(
            try ScheduleTiming(cron: "0 9 * * MON-FRI", timeZone: "Europe/Berlin")
                == .cron(CronExpression(parsing: "0 9 * * 1-5"), timeZone: "Europe/Berlin"))
        for zone in ["Mars/Base", "europe/berlin", ""] {
            let error = #expect(throws: ScheduleError.self) { try ScheduleTiming(cron: "0 9 * * *", timeZone: zone) }
            #expect(error?.code == .unknownTimeZone)
            #expect(error?.message == "time zone '\(zone)' is unknown; use an IANA name such as Europe/Berlin or UTC")
        }
        let error = #expect(throws: ScheduleError.self) { try ScheduleTiming(cron: "0 24 * * *", timeZone: "UTC") }
        #expect(error?.message == "cron field 2 (hour) '24': out of range 0-23")
    }

    @Test func summaries() throws {
        #expect(
            try ScheduleTiming(cron: "0 9 * * MON-FRI", timeZone: "Europe/Berlin").summary
                == "cron 0 9 * * 1-5 (Europe/Berlin)")
        #expect(try ScheduleTiming(cron: "@hourly", timeZone: nil).summary == "cron 0 * * * * (UTC)")
        #expect(try ScheduleTiming(every: "30s").summary == "every 30s")
        #expect(try ScheduleTiming(every: "90m").summary == "every 1h30m")
        #expect(try ScheduleTiming(every: "24h").summary == "every 1d")
        #expect(try ScheduleTiming(every: "1500ms").summary == "every 1s500ms")
    }

    // MARK: ticks

    /// Ticks sit on multiples of the interval since 1970, whatever instant one starts from.
    @Test(arguments: [
        ("30s", "2026-01-01T00:00:00Z", ["2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z", "2026-01-01T00:01:30Z"]),
        ("30s", "2026-01-01T00:00:17Z", ["2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z"]),
        // 1767225600 s (2026-01-01) is 8 past a multiple of 11.
        ("11s", "2026-01-01T00:00:00Z", ["2026-01-01T00:00:03Z", "2026-01-01T00:00:14Z", "2026-01-01T00:00:25Z"]),
        ("1h30m", "2026-01-01T00:10:00Z", ["2026-01-01T01:30:00Z", "2026-01-01T03:00:00Z"]),
        ("1d", "2026-03-08T05:00:00Z", ["2026-03-09T00:00:00Z", "2026-03-10T00:00:00Z"]),
    ])
    func intervalTicksAreAnchoredAtTheEpoch(text: String, start: String, expected: [String]) throws {
        let timing = try ScheduleTiming(every: text)
        var at = instant(start)
        var out: [String] = []
        for _ in expected {
            let next = try #require(timing.nextFire(after: at))
            out.append(iso(next))
            at = next
        }
        #expect(out == expected)
    }

    @Test func nextFireIsStrictlyAfter() throws {
        let every = try ScheduleTiming(every: "30s")
        let tick = instant("2026-01-01T00:00:30Z")
        #expect(every.nextFire(after: tick) == tick + 30_000)
        #expect(every.nextFire(after: tick - 1) == tick)
        #expect(every.nextFire(after: -1) == 0)
        #expect(every.nextFire(after: -30_001) == -30_000)
        let cron = try ScheduleTiming(cron: "30 2 * * *", timeZone: "Europe/Berlin")
        #expect(iso(cron.nextFire(after: instant("2026-03-29T01:00:00Z"))) == "2026-03-30T00:30:00Z")
        #expect(iso(cron.nextFire(after: instant("2026-03-29T00:59:59Z"))) == "2026-03-29T01:00:00Z")
    }

    /// Values built directly, past the checks of the initialisers, never fire rather than trap.
    @Test func uncheckedValuesNeverFire() throws {
        #expect(ScheduleTiming.every(.milliseconds(500)).nextFire(after: 0) == nil)
        #expect(ScheduleTiming.every(.seconds(-5)).nextFire(after: 0) == nil)
        #expect(try ScheduleTiming.cron(CronExpression(parsing: "* * * * *"), timeZone: "Mars/Base").nextFire(after: 0) == nil)
    }

    // MARK: JSON

    @Test(arguments: [
        (#"{"cron":"0 9 * * MON-FRI","tz":"Europe/Berlin"}"#, #"{"cron":"0 9 * * 1-5","tz":"Europe/Berlin"}"#),
        (#"{"cron":"@daily"}"#, #"{"cron":"0 0 * * *","tz":"UTC"}"#),
        (#"{"cron":"*/10 * * * * *","tz":"America/New_York"}"#, #"{"cron":"*/10 * * * * *","tz":"America/New_York"}"#),
        (#"{"every_ms":30000}"#, #"{"every_ms":30000}"#),
        (#"{"every_ms":5400000}"#, #"{"every_ms":5400000}"#),
    ])
    func jsonRoundTrips(input: String, stored: String) throws {
        let timing = try JSONDecoder().decode(ScheduleTiming.self, from: Data(input.utf8))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(timing), as: UTF8.self)
        #expect(json == stored)
        #expect(try JSONDecoder().decode(ScheduleTiming.self, from: Data(json.utf8)) == timing)
    }

    @Test(arguments: [
        (#"{"cron":"0 9 * * *","every_ms":30000}"#, "schedule timing: give 'cron' or 'every_ms', not both"),
        (#"{"tz":"UTC"}"#, "schedule timing: 'cron' or 'every_ms' is missing"),
        (#"{"every_ms":30000,"tz":"UTC"}"#, "schedule timing: 'tz' applies only to 'cron'"),
        (#"{"every_ms":500}"#, "schedule timing: interval '500ms': shorter than the minimum of 1s"),
        (
            #"{"cron":"0 0 L * *"}"#,
            "schedule timing: cron field 3 (day-of-month) 'L': 'L' (last day of the month) is not supported"
        ),
        (
            #"{"cron":"0 0 * * *","tz":"Nowhere/City"}"#,
            "schedule timing: time zone 'Nowhere/City' is unknown; use an IANA name such as Europe/Berlin or UTC"
        ),
    ])
    func jsonRefusesBadSchedules(input: String, message: String) {
        let error = #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(ScheduleTiming.self, from: Data(input.utf8))
        }
        guard case .dataCorrupted(let context)? = error else {
            Issue.record("expected dataCorrupted, got \(String(describing: error))")
            return
        }
        #expect(context.debugDescription == message)
    }
}
