public import Foundation

/// Any JSON value, kept as parsed so task arguments pass through the broker untouched.
///
/// Task inputs travel inside the envelope as JSON; the producer and the worker decode them
/// into the task's own `Input` type, while the supervisor and the CLI never need to.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        // Text before numbers: a decoder that reads "NaN" as a Double (see decode(_:)) must
        // not turn the text into a number that JSON cannot hold.
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n):
            // Integers print without a fraction so `{"ms":100}` stays `100`, not `100.0`.
            if n.rounded() == n, abs(n) < 1e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Parses JSON text.
    ///
    /// - Throws: `DecodingError` when `data` is not JSON.
    public init(parsing data: Data) throws {
        self = try JSONReader.parse(Array(data))
    }

    /// Parses JSON bytes.
    ///
    /// - Throws: `DecodingError` when `bytes` are not JSON.
    public init(parsing bytes: [UInt8]) throws {
        self = try JSONReader.parse(bytes)
    }

    /// Parses JSON as Python's `json` module writes it: `NaN`, `Infinity` and `-Infinity`
    /// become the strings of those names (see ``decode(_:)``).
    public init(parsingPython bytes: [UInt8]) throws {
        self = try JSONReader.parse(bytes, allowingNonFinite: true)
    }

    /// Converts any `Encodable` value.
    public init(encoding value: some Encodable) throws {
        self = try JSONValue(parsing: JSONEncoder().encode(value))
    }

    /// Decodes this value as `T`.
    ///
    /// A `Float` or `Double` also decodes from the strings `"NaN"`, `"Infinity"` and
    /// `"-Infinity"`: that is how a message from Python carries them (JSON has no such numbers).
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if let same = self as? T { return same }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try decoder.decode(T.self, from: data())
    }

    /// The value as compact JSON with sorted keys.
    public func data() throws -> Data {
        Data(try bytes())
    }

    /// The value as compact JSON with sorted keys, as bytes.
    ///
    /// - Throws: `EncodingError` for a number that is NaN or infinite.
    public func bytes() throws -> [UInt8] {
        var w = JSONWriter()
        try w.value(self)
        return w.bytes
    }

    /// The value as compact JSON text.
    public var jsonString: String {
        (try? data()).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    /// The text of a string; nil for anything else.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The elements of an array; nil for anything else.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The members of an object; nil for anything else.
    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// A number; nil for anything else.
    public var doubleValue: Double? {
        if case .number(let n) = self { return n }
        return nil
    }

    /// The member `key` of an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// A number that is whole and fits an `Int64`, as one (what a message's integer fields
    /// must hold); nil for anything else.
    var int64: Int64? {
        guard case .number(let n) = self, n.rounded() == n, abs(n) < 9.2e18 else { return nil }
        return Int64(n)
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
