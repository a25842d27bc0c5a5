import CKaleSystem
import Glibc

/// A length-prefixed message on the pipes between the supervisor and a child.
///
/// Layout: 4-byte big-endian length of what follows, 1 type byte, payload. Parent to child:
/// `R` run (8-byte attempt, 8-byte soft limit in ms or -1, then the kale/1 message), `C`
/// stop (payload: the reason). Child to parent: `H` hello (ready), `P` progress (8-byte
/// fraction as IEEE bits, then the message text), `S` success (result JSON), `F` failure
/// (TaskFailure JSON).
struct Frame: Sendable, Equatable {
    enum Kind: UInt8, Sendable {
        case run = 0x52, stop = 0x43, hello = 0x48, progress = 0x50, success = 0x53, failure = 0x46
    }

    /// Larger frames are refused: they can only come from a corrupted stream.
    static let maxLength = 64 << 20

    var kind: Kind
    var payload: [UInt8]

    init(_ kind: Kind, _ payload: [UInt8] = []) {
        self.kind = kind
        self.payload = payload
    }

    /// Writes the frame in one write call where it fits; retried on EINTR and short writes.
    func write(to fd: Int32) -> Bool {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(5 + payload.count)
        let length = UInt32(payload.count + 1)
        bytes.append(UInt8(length >> 24)); bytes.append(UInt8((length >> 16) & 0xFF))
        bytes.append(UInt8((length >> 8) & 0xFF)); bytes.append(UInt8(length & 0xFF))
        bytes.append(kind.rawValue)
        bytes.append(contentsOf: payload)
        return bytes.withUnsafeBytes { kale_write_full(fd, $0.baseAddress, $0.count) } == 0
    }

    /// Reads one frame; nil on EOF, error, or a corrupt frame (the stream is then unusable).
    static func read(from fd: Int32) -> Frame? {
        var header = [UInt8](repeating: 0, count: 5)
        guard header.withUnsafeMutableBytes({ kale_read_full(fd, $0.baseAddress, 5) }) == 0 else { return nil }
        let length = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard length >= 1, length <= maxLength, let kind = Kind(rawValue: header[4]) else { return nil }
        var payload = [UInt8](repeating: 0, count: length - 1)
        if length > 1 {
            guard payload.withUnsafeMutableBytes({ kale_read_full(fd, $0.baseAddress, length - 1) }) == 0 else { return nil }
        }
        return Frame(kind, payload)
    }

    static func int64(_ v: Int64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - $0 * 8)) }
    }

    static func int64(_ bytes: ArraySlice<UInt8>) -> Int64 {
        bytes.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }
}
