import CKaleSystem
import Foundation
import Glibc
public import Kale
import Synchronization

/// The child side of the process pool: reads tasks from stdin, runs them, answers on stdout.
///
/// A worker executable becomes a child when started with `KALE_CHILD=1` (the supervisor
/// does that); it must build the same ``TaskRegistry`` as the supervisor, which it does by
/// running the same code path with the same arguments.
public enum ChildRuntime {
    /// Whether this process was started as a pool child.
    public static var isChild: Bool { ProcessInfo.processInfo.environment["KALE_CHILD"] == "1" }

    /// Serves tasks until stdin closes, then exits the process.
    public static func run(registry: TaskRegistry) -> Never {
        // Frames own the real stdout. Anything a task prints goes to stderr instead, so a
        // stray print() can never corrupt the frame stream.
        let frames = dup(1)
        dup2(2, 1)
        let writer = FrameWriter(fd: frames)
        writer.send(Frame(.hello, Frame.int64(Int64(getpid()))))
        let current = CurrentRun()
        var reader = FrameReader(fd: 0)
        while let frame = reader.next() {
            switch frame.kind {
            case .run:
                let attempt = Int(Frame.int64(frame.payload[0..<8]))
                let softMs = Frame.int64(frame.payload[8..<16])
                let message = Array(frame.payload[16...])
                start(message: message, attempt: attempt, softMs: softMs, registry: registry, writer: writer, current: current)
            case .stop:
                let reason = TaskContext.StopReason(rawValue: String(decoding: frame.payload, as: UTF8.self)) ?? .cancelled
                current.value.withLock { $0 }?.stop(reason)
            default:
                break
            }
        }
        // stdin closed: the supervisor is retiring us, or it died. Either way, leave.
        exit(0)
    }

    private static func start(message: [UInt8], attempt: Int, softMs: Int64, registry: TaskRegistry,
                              writer: FrameWriter, current: CurrentRun) {
        let envelope: Envelope
        do { envelope = try KaleJSONFormat().decode(message) }
        catch {
            writer.fail(.rejected("the child could not decode the message: \(error)", type: "MalformedMessage"))
            return
        }
        guard let handler = registry.handler(named: envelope.name) else {
            writer.fail(.rejected("unknown task '\(envelope.name)' in the child process", type: "UnknownTask"))
            return
        }
        let run = HandlerRun(
            handler: handler, envelope: envelope, attempt: attempt,
            softTimeLimit: softMs >= 0 ? .milliseconds(softMs) : nil,
            progress: { fraction, text in
                writer.send(Frame(.progress, Frame.int64(Int64(bitPattern: fraction.bitPattern)) + Array((text ?? "").utf8)))
            })
        current.value.withLock { $0 = run }
        // Unstructured: the main thread must keep reading stdin for stop frames meanwhile.
        Task {
            let outcome = await run.outcome()
            current.value.withLock { $0 = nil }
            switch outcome {
            case .succeeded(let bytes):
                writer.send(Frame(.success, bytes))
            case .failed(let failure):
                writer.fail(failure)
            }
        }
    }
}

/// Serializes frame writes from the task and the progress reporter.
private final class FrameWriter: Sendable {
    private let fd: Mutex<Int32>

    init(fd: Int32) { self.fd = Mutex(fd) }

    func send(_ frame: Frame) {
        fd.withLock { fd in
            // The supervisor is gone if this fails; stdin EOF will end us shortly.
            _ = frame.write(to: fd)
        }
    }

    func fail(_ failure: TaskFailure) {
        send(Frame(.failure, (try? JSONEncoder().encode(failure)).map { Array($0) } ?? []))
    }
}

/// The run in progress, shared by the stdin loop (stop frames) and the task.
private final class CurrentRun: Sendable {
    let value = Mutex<HandlerRun?>(nil)
}
