import Foundation

/// Stored as a small JSON object in ``Keys/limits``, the rate in its text form so that
/// `HGETALL kale:limits` reads like the CLI: `{"rate":"50/s","burst":5,"concurrency":2,"key":"customer","origin":"runtime"}`.
extension TaskLimits: Codable {
    private enum CodingKeys: String, CodingKey {
        case rate, burst, concurrency, key, origin
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let rateText = try c.decodeIfPresent(String.self, forKey: .rate)
        do { rate = try rateText.map { try Rate(parsing: $0) } }
        catch { throw DecodingError.dataCorruptedError(forKey: .rate, in: c, debugDescription: "\(error)") }
        burst = try c.decodeIfPresent(Int.self, forKey: .burst) ?? 1
        concurrency = try c.decodeIfPresent(Int.self, forKey: .concurrency)
        keyField = try c.decodeIfPresent(String.self, forKey: .key)
        origin = try c.decodeIfPresent(DefinitionOrigin.self, forKey: .origin) ?? .runtime
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(rate?.description, forKey: .rate)
        try c.encode(burst, forKey: .burst)
        try c.encodeIfPresent(concurrency, forKey: .concurrency)
        try c.encodeIfPresent(keyField, forKey: .key)
        try c.encode(origin, forKey: .origin)
    }

    /// The stored JSON text.
    var json: String { storedJSON(self) }
}
