import Foundation
import KaleRedis

/// When a periodic schedule fires: at the times a cron expression names in a time zone, or
/// every fixed interval.
///
/// Pure timing, shared by every worker: the same value and the same instant give the same
/// next fire everywhere. Stored as a small JSON object, `{"cron":"0 9 * * 1-5","tz":"Europe/Berlin"}`
/// or `{"every_ms":30000}`.
public enum ScheduleTiming: Sendable, Hashable, Codable {
    /// The times `expression` names on the wall clock of `timeZone`, an IANA identifier such as
    /// `Europe/Berlin` (``CronExpression/nextFire(after:in:)`` describes DST changes).
    ///
    /// Build it with ``init(cron:timeZone:)``, which checks the zone: a zone Foundation does not
    /// know never fires.
    case cron(CronExpression, timeZone: String)
    /// Every interval of real time, at least one second, in whole milliseconds.
    ///
    /// Ticks fall on the multiples of the interval since 1970-01-01T00:00:00Z (`1d` fires at
    /// midnight UTC, `30s` on :00 and :30), so every worker computes the same ticks without
    /// agreeing on a start. Build it with ``init(every:)``; an interval under a second, possible
    /// only by building the case directly, never fires.
    case every(Duration)

    /// A cron schedule, checking the expression and the zone.
    ///
    /// - Parameters:
    ///   - cron: the expression, as ``CronExpression/init(parsing:)`` reads it.
    ///   - timeZone: an IANA identifier (`Europe/Berlin`); nil means `UTC`.
    /// - Throws: ``ScheduleError``: `.invalidCron`, or `.unknownTimeZone`.
    public init(cron: String, timeZone: String? = nil) throws {
        let expression = try CronExpression(parsing: cron)
        let zone = timeZone ?? "UTC"
        guard TimeZone(identifier: zone) != nil else {
            throw ScheduleError(.unknownTimeZone, "time zone '\(zone)' is unknown; use an IANA name such as Europe/Berlin or UTC")
        }
        self = .cron(expression, timeZone: zone)
    }

    /// An interval schedule from its text: `30s`, `5m`, `2h`, `1d`, `1h30m`, `1s500ms`.
    ///
    /// Units (`d`, `h`, `m`, `s`, `ms`) go from largest to smallest, each once; a bare number
    /// is seconds.
    /// - Throws: ``ScheduleError`` (`.invalidInterval`) for bad text, under 1 s or over 10 years.
    public init(every text: String) throws {
        self = .every(.milliseconds(try IntervalText.milliseconds(text)))
    }

    /// The first fire strictly after `ms`, both in milliseconds since 1970 UTC.
    ///
    /// A tick exactly at `ms` is not returned, so feeding each result back in walks the fires
    /// one by one. Nil when nothing fires within five years, for an unknown zone, or for an
    /// interval under a second.
    public func nextFire(after ms: Int64) -> Int64? {
        switch self {
        case .cron(let expression, let timeZone):
            guard let zone = TimeZone(identifier: timeZone) else { return nil }
            return expression.nextFire(after: ms, in: zone)
        case .every(let interval):
            let step = interval.milliseconds
            guard step >= IntervalText.minimumMilliseconds else { return nil }
            let (quotient, remainder) = ms.quotientAndRemainder(dividingBy: step)
            // Floor division, so instants before 1970 land on the same grid.
            let (next, overflow) = (quotient + (remainder < 0 ? 0 : 1)).multipliedReportingOverflow(by: step)
            return overflow ? nil : next
        }
    }

    /// One line for listings: `cron 0 9 * * 1-5 (Europe/Berlin)`, `every 1h30m`.
    public var summary: String {
        switch self {
        case .cron(let expression, let timeZone): "cron \(expression) (\(timeZone))"
        case .every(let interval): "every \(IntervalText.text(milliseconds: interval.milliseconds))"
        }
    }

    private enum CodingKeys: String, CodingKey {
        case cron, tz, everyMs = "every_ms"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func fail(_ why: String) -> DecodingError {
            .dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "schedule timing: \(why)"))
        }
        let cron = try c.decodeIfPresent(String.self, forKey: .cron)
        let tz = try c.decodeIfPresent(String.self, forKey: .tz)
        let everyMs = try c.decodeIfPresent(Int64.self, forKey: .everyMs)
        do {
            switch (cron, everyMs) {
            case (let cron?, nil):
                try self.init(cron: cron, timeZone: tz)
            case (nil, let ms?):
                guard tz == nil else { throw fail("'tz' applies only to 'cron'") }
                // Through the text form, so a stored interval meets the same limits as a typed one.
                try self.init(every: IntervalText.text(milliseconds: ms))
            case (_?, _?): throw fail("give 'cron' or 'every_ms', not both")
            case (nil, nil): throw fail("'cron' or 'every_ms' is missing")
            }
        } catch let error as ScheduleError {
            throw fail(error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .cron(let expression, let timeZone):
            try c.encode(expression.description, forKey: .cron)
            try c.encode(timeZone, forKey: .tz)
        case .every(let interval):
            try c.encode(interval.milliseconds, forKey: .everyMs)
        }
    }
}
