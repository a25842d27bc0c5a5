import Kale

/// kombu's JSON dialect (`kombu/utils/json.py`): an object whose keys are exactly `__type__`
/// and `__value__` is a typed value. Each becomes the plain JSON a Swift `Codable` type reads:
/// dates and times their ISO text (`Date` with `.iso8601`, or `String`), a decimal its digits
/// as text, a UUID its canonical text (`UUID`), bytes their text, base64 its text (`Data`).
enum CeleryTaggedJSON {
    static func untag(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let items): return .array(items.map(untag))
        case .object(let members):
            if members.count == 2, case .string(let type)? = members["__type__"], let inner = members["__value__"] {
                return plain(type: type, inner)
            }
            return .object(members.mapValues(untag))
        default: return value
        }
    }

    private static func plain(type: String, _ inner: JSONValue) -> JSONValue {
        switch (type, inner) {
        case ("uuid", .string(let hex)): return .string(canonicalUUID(hex))
        case ("uuid", .object(let o)): return o["hex"].map { $0.stringValue.map { .string(canonicalUUID($0)) } ?? $0 } ?? inner
        default: return untag(inner)
        }
    }

    /// `6f1c…` (32 hex digits, as Python's `uuid.hex`) as `6f1c2d4e-…`; other text unchanged.
    static func canonicalUUID(_ text: String) -> String {
        let hex = Array(text.utf8)
        guard hex.count == 32, hex.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) }) else {
            return text
        }
        var out = ""
        for (i, c) in hex.enumerated() {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append("-") }
            out.append(Character(Unicode.Scalar(c)))
        }
        return out.lowercased()
    }
}
