/// New task ids: random (version 4) UUIDs in lowercase text.
///
/// Foundation's `UUID()` opened and closed `/dev/urandom` for every id and formatted it with
/// `sprintf`: together a tenth of a producer's time in a batch enqueue. The system generator
/// (`getrandom`) and a table lookup give the same RFC 4122 text without a file or a format.
enum TaskID {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

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
                out[i] = hex[Int((word >> UInt64(60 - 4 * (n % 16))) & 0xF)]
                i += 1
            }
            return i
        }
    }
}
