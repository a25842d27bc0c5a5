import KaleRedis

/// The flow controls of one task name, enforced fleet-wide in Redis at lease time: a rate
/// limit (GCRA) and a concurrency cap, each optionally per key of the input.
///
/// A task over a limit is never failed and spends no attempt: it is deferred to when it may
/// run (``KaleClient/setLimits(_:for:)``, docs/limits.md).
public struct TaskLimits: Sendable, Hashable {
    /// At most `count` starts per `period`, spaced evenly, with ``burst`` at once.
    public var rate: Rate?
    /// How many may start at once when the rate allows (the bucket's size). Default 1: starts
    /// are spread evenly over the period.
    public var burst: Int
    /// At most this many running (leased) at once across the fleet. nil: no cap.
    public var concurrency: Int?
    /// A field of the task's input (a top-level key of its JSON object) whose value names
    /// separate limits: `customer` gives each customer its own rate and cap.
    public var keyField: String?
    /// Where the limits were set: ``DefinitionOrigin/code`` ones are replaced by a worker whose
    /// code declares different ones; ``DefinitionOrigin/runtime`` ones (the CLI, the API) win.
    public var origin: DefinitionOrigin

    public init(rate: Rate? = nil, burst: Int = 1, concurrency: Int? = nil, keyField: String? = nil, origin: DefinitionOrigin = .runtime) {
        self.rate = rate
        self.burst = burst
        self.concurrency = concurrency
        self.keyField = keyField
        self.origin = origin
    }

    /// `count` per `period`.
    public struct Rate: Sendable, Hashable, CustomStringConvertible {
        public var count: Int
        public var period: Duration

        public init(count: Int, period: Duration) {
            self.count = count
            self.period = period
        }

        /// Parses `50/s`, `10/m`, `1000/h`, `5/d`, or a count per duration (`3/10s`).
        /// - Throws: ``KaleError`` `.invalidOptions` with what a rate looks like.
        public init(parsing text: String) throws {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            let hint = "a rate is COUNT/PERIOD, e.g. 50/s, 10/m, 1000/h or 3/10s"
            guard parts.count == 2, let count = Int(parts[0]), count > 0 else {
                throw KaleError(.invalidOptions, detail: "bad rate '\(text)': \(hint)")
            }
            let unit = String(parts[1])
            let named: [String: Duration] = ["s": .seconds(1), "sec": .seconds(1), "m": .seconds(60), "min": .seconds(60),
                                             "h": .seconds(3600), "d": .seconds(86400)]
            if let period = named[unit] {
                self.init(count: count, period: period)
            } else if let ms = try? IntervalText.milliseconds(unit, minimum: 1) {
                self.init(count: count, period: .milliseconds(ms))
            } else {
                throw KaleError(.invalidOptions, detail: "bad rate '\(text)': \(hint)")
            }
        }

        /// Milliseconds between two starts at the steady rate.
        public var interval: Double { Double(period.milliseconds) / Double(count) }

        public var description: String {
            let ms = period.milliseconds
            switch ms {
            case 1000: return "\(count)/s"
            case 60_000: return "\(count)/m"
            case 3_600_000: return "\(count)/h"
            case 86_400_000: return "\(count)/d"
            default: return "\(count)/\(IntervalText.text(milliseconds: ms))"
            }
        }
    }

    /// Whether any limit is set.
    public var isEmpty: Bool { rate == nil && concurrency == nil }

    /// The compact form the fetch script reads (``FlowLua``):
    /// `<emission interval ms>|<burst>|<concurrency>|<key field>`.
    public var spec: String {
        let interval = rate.map { String(format3($0.interval)) } ?? "0"
        return "\(interval)|\(max(burst, 1))|\(concurrency ?? 0)|\(keyField ?? "")"
    }

    /// Checks the values a limit may take.
    /// - Throws: ``KaleError`` `.invalidOptions`.
    public func validate() throws {
        if isEmpty { throw KaleError(.invalidOptions, detail: "a limit needs a rate or a concurrency") }
        if burst < 1 || burst > 1_000_000 { throw KaleError(.invalidOptions, detail: "burst must be 1-1000000, not \(burst)") }
        if let c = concurrency, c < 1 || c > 1_000_000 {
            throw KaleError(.invalidOptions, detail: "concurrency must be 1-1000000, not \(c)")
        }
        if let r = rate, r.interval < 0.001 { throw KaleError(.invalidOptions, detail: "rate \(r) is over 1000 per ms") }
        if let k = keyField, k.isEmpty || k.utf8.count > 200 || k.contains("|") {
            throw KaleError(.invalidOptions, detail: "key field must be 1-200 bytes without '|'")
        }
    }

    /// One line: `50/s burst 5, concurrency 2, per customer`.
    public var summary: String {
        var parts: [String] = []
        if let rate { parts.append(burst > 1 ? "\(rate) burst \(burst)" : "\(rate)") }
        if let concurrency { parts.append("concurrency \(concurrency)") }
        if let keyField { parts.append("per \(keyField)") }
        return parts.joined(separator: ", ")
    }
}

/// Up to 3 decimals, no trailing zeros: the interval as the script parses it.
private func format3(_ x: Double) -> String {
    let scaled = (x * 1000).rounded()
    let whole = Int64(scaled) / 1000, frac = Int64(scaled) % 1000
    if frac == 0 { return String(whole) }
    var f = String(frac)
    while f.count < 3 { f = "0" + f }
    while f.hasSuffix("0") { f.removeLast() }
    return "\(whole).\(f)"
}
