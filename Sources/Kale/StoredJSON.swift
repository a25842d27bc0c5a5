import Foundation

/// A definition as it is stored in Redis (limits, schedules): JSON with sorted keys, so the
/// same definition is always the same text and `HGETALL` reads the same way every time.
func storedJSON(_ value: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
}
