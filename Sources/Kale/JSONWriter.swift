/// Writes compact JSON with sorted keys straight into bytes.
///
/// Enqueue encodes one envelope per task, and `JSONEncoder` (boxing every value, sorting
/// `String` keys, going through `Data`) cost more per message than the Redis round trip of a
/// pipelined enqueue. The output is byte for byte what `JSONEncoder` with `.sortedKeys` and
/// `.withoutEscapingSlashes` writes; the envelope's golden test pins that.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings (ids, names, padding) need no escaping: copy them in one go.
        let plain = s.utf8.withContiguousStorageIfAvailable { buffer in
            guard buffer.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) else { return false }
            bytes.append(contentsOf: buffer)
            return true
        }
        if plain == true {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): raw(#"\""#)
            case UInt8(ascii: "\\"): raw(#"\\"#)
            case 0x0A: raw(#"\n"#)
            case 0x0D: raw(#"\r"#)
            case 0x09: raw(#"\t"#)
            case 0x08: raw(#"\b"#)
            case 0x0C: raw(#"\f"#)
            case 0..<0x20:
                raw(#"\u00"#)
                bytes.append(Self.hex[Int(b >> 4)])
                bytes.append(Self.hex[Int(b & 0xF)])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    mutating func integer(_ n: Int64) {
        if n < 0 { bytes.append(UInt8(ascii: "-")) }
        var rest = n.magnitude
        let start = bytes.count
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        bytes[start...].reverse()
    }

    /// - Throws: `EncodingError` for NaN and infinities, which JSON cannot hold.
    mutating func number(_ n: Double) throws {
        guard n.isFinite else {
            throw EncodingError.invalidValue(n, EncodingError.Context(codingPath: [], debugDescription: "\(n) is not valid JSON"))
        }
        // Integers print without a fraction so `{"ms":100}` stays `100`, not `100.0`.
        if n.rounded() == n, abs(n) < 1e15 { integer(Int64(n)); return }
        bytes.append(contentsOf: n.description.utf8)
    }

    mutating func bool(_ b: Bool) { b ? raw("true") : raw("false") }

    mutating func value(_ v: JSONValue) throws {
        switch v {
        case .null: raw("null")
        case .bool(let b): bool(b)
        case .number(let n): try number(n)
        case .string(let s): string(s)
        case .array(let a):
            bytes.append(UInt8(ascii: "["))
            for (i, element) in a.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                try value(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let o):
            try object(o.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) { w, member in try w.value(member) }
        }
    }

    /// An object of already sorted members.
    mutating func object<Member>(_ members: [(key: String, value: Member)], _ write: (inout JSONWriter, Member) throws -> Void) rethrows {
        bytes.append(UInt8(ascii: "{"))
        for (i, member) in members.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            string(member.key)
            bytes.append(UInt8(ascii: ":"))
            try write(&self, member.value)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// Writes `"key":` preceded by a comma unless it is the first member.
    mutating func key(_ name: StaticString, first: Bool = false) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        raw(name)
        raw("\":")
    }
}
