import Kale

/// A stop request to a child, as a frame on its control pipe.
///
/// The control pipe is not ordered with the task pipe: a stop meant for the run that just
/// ended could be read after the child read the next run frame. So the request names its run
/// (the supervisor and the child both count run frames) and the child applies it only to
/// that run, holding it if that run has not been read yet.
struct StopRequest: Equatable {
    /// Run frames sent to this child up to and including the one to stop (wraps).
    var run: UInt32
    var reason: TaskContext.StopReason

    init(run: UInt32, reason: TaskContext.StopReason) {
        self.run = run
        self.reason = reason
    }

    /// Nil for a payload no supervisor sends.
    init?(payload: [UInt8]) {
        guard payload.count >= 4,
              let reason = TaskContext.StopReason(rawValue: String(decoding: payload[4...], as: UTF8.self))
        else { return nil }
        run = payload[0..<4].reduce(0) { $0 << 8 | UInt32($1) }
        self.reason = reason
    }

    var payload: [UInt8] {
        [UInt8(run >> 24), UInt8(run >> 16 & 0xFF), UInt8(run >> 8 & 0xFF), UInt8(run & 0xFF)] + Array(reason.rawValue.utf8)
    }
}
