/// Parses JSON bytes into a ``JSONValue``.
///
/// Every task's message is decoded twice (by the supervisor, for the name and limits, and by
/// the child that runs it); with `JSONDecoder` and `JSONValue`'s try-each-type `Decodable`
/// conformance that cost more CPU per task than the task's Redis work. Errors are
/// `DecodingError.dataCorrupted` with the byte offset, like `JSONDecoder`'s.
struct JSONReader {
    private let bytes: [UInt8]
    private var i = 0
    /// Python's `json` writes `NaN`, `Infinity` and `-Infinity`, which JSON has no words for.
    /// Read leniently they become the strings of those names, which ``JSONValue/decode(_:)``
    /// turns back into a `Double` (and a `String` field keeps as text).
    private var nonFinite = false
    /// Deeper nesting than this is refused: garbage must not be able to exhaust the stack.
    static let maxDepth = 256

    static func parse(_ bytes: [UInt8], allowingNonFinite: Bool = false) throws -> JSONValue {
        var r = JSONReader(bytes: bytes)
        r.nonFinite = allowingNonFinite
        r.skipSpace()
        let v = try r.value(depth: 0)
        r.skipSpace()
        guard r.i == bytes.count else { throw r.error("unexpected text after the JSON value") }
        return v
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func error(_ what: String) -> DecodingError {
        .dataCorrupted(DecodingError.Context(codingPath: [], debugDescription: "not valid JSON: \(what) at byte \(i)"))
    }

    private mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func literal(_ text: StaticString, _ v: JSONValue) throws -> JSONValue {
        let n = text.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw error("truncated literal") }
        for k in 0..<n where bytes[i + k] != text.utf8Start[k] { throw error("unknown literal") }
        i += n
        return v
    }

    private mutating func value(depth: Int) throws -> JSONValue {
        guard depth < Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
        guard i < bytes.count else { throw error("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "N") where nonFinite: return try literal("NaN", .string("NaN"))
        case UInt8(ascii: "I") where nonFinite: return try literal("Infinity", .string("Infinity"))
        case UInt8(ascii: "-") where nonFinite && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "I"):
            return try literal("-Infinity", .string("-Infinity"))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw error("unexpected character")
        }
    }

    private mutating func object(depth: Int) throws -> JSONValue {
        var members: [String: JSONValue] = [:]
        guard opens(closedBy: "}") else { return .object(members) }
        repeat {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a member name") }
            let key = try string()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
            i += 1
            skipSpace()
            let v = try value(depth: depth + 1)
            // A repeated name keeps its first value, as JSONDecoder does.
            if members[key] == nil { members[key] = v }
        } while try another(closedBy: "}", in: "object")
        return .object(members)
    }

    private mutating func array(depth: Int) throws -> JSONValue {
        var elements: [JSONValue] = []
        guard opens(closedBy: "]") else { return .array(elements) }
        repeat {
            skipSpace()
            elements.append(try value(depth: depth + 1))
        } while try another(closedBy: "]", in: "array")
        return .array(elements)
    }

    /// Steps over a container's opening bracket; false (having stepped over `close` too) when
    /// the container is empty.
    private mutating func opens(closedBy close: Unicode.Scalar) -> Bool {
        i += 1
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: close) else { return true }
        i += 1
        return false
    }

    /// After an element: true at a ',' (another element follows), false at `close`.
    private mutating func another(closedBy close: Unicode.Scalar, in container: String) throws -> Bool {
        skipSpace()
        guard i < bytes.count else { throw error("unterminated \(container)") }
        if bytes[i] == UInt8(ascii: ",") {
            i += 1
            return true
        }
        guard bytes[i] == UInt8(ascii: close) else { throw error("expected ',' or '\(close)'") }
        i += 1
        return false
    }

    private mutating func number() throws -> Double {
        let start = i
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        func digits(_ r: inout JSONReader) -> Int {
            let s = r.i
            while r.i < r.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(r.bytes[r.i]) { r.i += 1 }
            return r.i - s
        }
        let intStart = i
        guard digits(&self) > 0 else { throw error("expected a digit") }
        if bytes[intStart] == UInt8(ascii: "0"), i - intStart > 1 { throw error("leading zero") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits(&self) > 0 else { throw error("expected a digit after '.'") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits(&self) > 0 else { throw error("expected an exponent") }
        }
        guard let n = Double(String(decoding: bytes[start..<i], as: UTF8.self)), n.isFinite else { throw error("number out of range") }
        return n
    }

    private mutating func string() throws -> String {
        i += 1
        let start = i
        // Fast path: no escapes, so the bytes between the quotes are the string.
        while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\") {
            guard bytes[i] >= 0x20 else { throw error("control character in a string") }
            i += 1
        }
        guard i < bytes.count else { throw error("unterminated string") }
        var out = Array(bytes[start..<i])
        while bytes[i] != UInt8(ascii: "\"") {
            if bytes[i] == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { throw error("unterminated escape") }
                switch bytes[i] {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"): out.append(contentsOf: try unicodeEscape())
                default: throw error("unknown escape")
                }
                i += 1
            } else {
                guard bytes[i] >= 0x20 else { throw error("control character in a string") }
                out.append(bytes[i])
                i += 1
            }
            guard i < bytes.count else { throw error("unterminated string") }
        }
        i += 1
        guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
        return s
    }

    /// Reads the hex of `\uXXXX` (and a following low surrogate); leaves `i` on its last digit.
    private mutating func unicodeEscape() throws -> [UInt8] {
        func hex4(_ r: inout JSONReader) throws -> UInt32 {
            guard r.i + 4 < r.bytes.count else { throw r.error("truncated \\u escape") }
            var v: UInt32 = 0
            for k in 1...4 {
                guard let d = Self.hexValue(r.bytes[r.i + k]) else { throw r.error("bad \\u escape") }
                v = v << 4 | d
            }
            r.i += 4
            return v
        }
        var scalar = try hex4(&self)
        if (0xD800..<0xDC00).contains(scalar) {
            guard i + 2 < bytes.count, bytes[i + 1] == UInt8(ascii: "\\"), bytes[i + 2] == UInt8(ascii: "u") else {
                throw error("unpaired surrogate")
            }
            i += 2
            let low = try hex4(&self)
            guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let u = Unicode.Scalar(scalar) else { throw error("unpaired surrogate") }
        return Array(String(Character(u)).utf8)
    }

    private static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(b - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}
