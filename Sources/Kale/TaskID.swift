/// Task ids: random ones for new tasks, and the rules a caller-chosen id must follow.
///
/// An id becomes part of Redis key and channel names (`kale:{queue}:t:<id>`,
/// `kale:done:<id>`), so it is checked at enqueue rather than trusted.
public enum TaskID {
    /// The longest id accepted, in UTF-8 bytes.
    ///
    /// The fetch script takes a pending entry longer than this for a raw message pushed by
    /// hand and dead-letters it, so a longer id would never run.
    public static let maxBytes = 200

    /// Why `id` cannot name a task, or nil when it can.
    ///
    /// An id is 1 to ``maxBytes`` bytes of UTF-8 with no whitespace, no control character
    /// and no `{` or `}`. Anything else printable is fine, `:` included (`invoice:42`).
    public static func problem(with id: String) -> String? {
        let bytes = id.utf8.count
        guard bytes > 0 else { return "task id must not be empty" }
        guard bytes <= maxBytes else { return "task id is \(bytes) bytes long; the limit is \(maxBytes) bytes" }
        // Whitespace and control characters would split the CLI's one-id-per-line output and
        // log lines. Braces: the queue's tag comes first in a queue's keys, but names without
        // one (the done channel) would hash by a tag of the id's choosing.
        if let bad = id.unicodeScalars.first(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) {
            return "task id \(shown(id)) contains whitespace or a control character (U+\(hex(bad)))"
        }
        if id.contains("{") || id.contains("}") {
            return "task id \(shown(id)) contains '{' or '}', which are reserved for the queue's hash tag in key names"
        }
        return nil
    }

    /// The id quoted with escapes, so a newline in it cannot break a one-line error.
    private static func shown(_ id: String) -> String {
        let quoted = id.debugDescription
        return quoted.count <= 60 ? quoted : String(quoted.prefix(57)) + "…\""
    }

    private static func hex(_ scalar: Unicode.Scalar) -> String {
        let digits = String(scalar.value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// A random (version 4) UUID in lowercase text.
    ///
    /// Foundation's `UUID()` opened and closed `/dev/urandom` for every id and formatted it
    /// with `sprintf`: together a tenth of a producer's time in a batch enqueue. The system
    /// generator (`getrandom`) and a table lookup give the same RFC 4122 text without a file
    /// or a format.
    static func random() -> String {
        var rng = SystemRandomNumberGenerator()
        var high = rng.next() as UInt64, low = rng.next() as UInt64
        high = (high & ~0xF000) | 0x4000  // version 4
        low = (low & ~(0xC << 60)) | (0x8 << 60)  // variant 10xx
        return String(unsafeUninitializedCapacity: 36) { out in
            var i = 0
            for n in 0..<32 {
                // 8-4-4-4-12 groups: a dash before nibbles 8, 12, 16 and 20.
                if n == 8 || n == 12 || n == 16 || n == 20 { out[i] = UInt8(ascii: "-"); i += 1 }
                let word = n < 16 ? high : low
                out[i] = hexDigits[Int((word >> UInt64(60 - 4 * (n % 16))) & 0xF)]
                i += 1
            }
            return i
        }
    }
}
