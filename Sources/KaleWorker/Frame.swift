import CKaleSystem
import Glibc

/// A length-prefixed message on the pipes between the supervisor and a child.
///
/// Layout: 4-byte big-endian length of what follows, 1 type byte, payload. Parent to child:
/// `R` run (8-byte attempt, 8-byte soft limit in ms or -1, 8-byte length and the run span's trace
/// context "traceparent\ntracestate" (length 0: tracing off), then the kale/1 message), `C`
/// stop (payload: the reason). Child to parent: `H` hello (ready), `P` progress (8-byte
/// fraction as IEEE bits, then the message text), `S` success (result JSON), `F` failure
/// (TaskFailure JSON).
struct Frame: Sendable, Equatable {
    enum Kind: UInt8, Sendable {
        /// `stop` travels on the control pipe (descriptor 3 in the child), the rest on stdin/stdout.
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
    ///
    /// False when the reader has gone (EPIPE): SIGPIPE is blocked for the write, so a dead
    /// child can never kill the process that embeds the worker.
    func write(to fd: Int32) -> Bool {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(5 + payload.count)
        let length = UInt32(payload.count + 1)
        bytes.append(UInt8(length >> 24)); bytes.append(UInt8((length >> 16) & 0xFF))
        bytes.append(UInt8((length >> 8) & 0xFF)); bytes.append(UInt8(length & 0xFF))
        bytes.append(kind.rawValue)
        bytes.append(contentsOf: payload)
        return bytes.withUnsafeBytes { kale_write_nosigpipe(fd, $0.baseAddress, $0.count) } == 0
    }


    static func int64(_ v: Int64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - $0 * 8)) }
    }

    static func int64(_ bytes: ArraySlice<UInt8>) -> Int64 {
        bytes.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }
}

/// Reads frames from one descriptor through a buffer, so a small frame costs one `read`
/// (often less: several frames arrive together) instead of one for the header and one for
/// the payload. Owned by the single thread that reads the descriptor.
///
/// The buffer is allocated once and grows only for a frame larger than it; bytes are moved
/// with `memmove`, never element by element.
struct FrameReader {
    private let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)
    /// Unread bytes are `buffer[start..<end]`.
    private var start = 0
    private var end = 0

    init(fd: Int32) { self.fd = fd }

    /// The next frame; nil on EOF, error, or a corrupt frame (the stream is then unusable).
    mutating func next() -> Frame? {
        while true {
            let available = end - start
            if available >= 5 {
                let b = start
                let length = Int(buffer[b]) << 24 | Int(buffer[b + 1]) << 16 | Int(buffer[b + 2]) << 8 | Int(buffer[b + 3])
                guard length >= 1, length <= Frame.maxLength, let kind = Frame.Kind(rawValue: buffer[b + 4]) else { return nil }
                if available >= 4 + length {
                    let payload = Array(buffer[(b + 5)..<(b + 4 + length)])
                    start += 4 + length
                    if start == end { start = 0; end = 0 }
                    return Frame(kind, payload)
                }
                if 4 + length > buffer.count {
                    buffer.append(contentsOf: [UInt8](repeating: 0, count: 4 + length - buffer.count))
                }
            }
            compact()
            guard fill() else { return nil }
        }
    }

    /// Moves the unread bytes to the front so the free space is at the end.
    private mutating func compact() {
        guard start > 0 else { return }
        let count = end - start
        let from = start
        buffer.withUnsafeMutableBytes { raw in
            _ = memmove(raw.baseAddress!, raw.baseAddress! + from, count)
        }
        start = 0
        end = count
    }

    private mutating func fill() -> Bool {
        let room = buffer.count - end
        let offset = end
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + offset, room) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            end += n
            return true
        }
    }
}
