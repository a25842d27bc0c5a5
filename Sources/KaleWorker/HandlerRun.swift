import Glibc
import Kale
import Synchronization
import Tracing

/// Runs one handler with its context, soft time limit and stop requests: the part of running
/// a task that is the same in the inline pool and in a child process.
final class HandlerRun: Sendable {
    let context: TaskContext
    private let work: Task<JSONValue, any Error>
    private let softTimer: Task<Void, Never>?
    /// `kale.execute <name>`, where the handler runs (nil when tracing is off).
    private let span: (any Span)?

    /// - Parameter executor: where the handler runs (a child's task loop); nil for Swift's
    ///   pool. The soft-limit timer always runs on the pool, so it fires while a CPU-bound
    ///   handler holds the executor.
    /// - Parameter trace: the W3C headers of the supervisor's run span; the handler runs in a
    ///   `kale.execute` span under it, so spans the handler starts join the task's trace.
    init(handler: TaskHandler, envelope: Envelope, attempt: Int, softTimeLimit: Duration?,
         executor: (any TaskExecutor)? = nil, trace: [String: String] = [:],
         progress: @escaping @Sendable (Double, String?) async -> Void) {
        let context = TaskContext(
            id: envelope.id, name: envelope.name, queue: envelope.queue, attempt: attempt,
            maxRetries: envelope.maxRetries, headers: envelope.headers,
            softDeadline: softTimeLimit.map { .now + $0 }, progress: progress)
        self.context = context
        var span: (any Span)?
        var traceContext = ServiceContext.current ?? .topLevel
        if let tracer = TaskTracing.tracer, !trace.isEmpty {
            let started = tracer.startSpan("kale.execute \(envelope.name)", context: TaskTracing.context(of: trace), ofKind: .internal)
            started.attributes["kale.attempt"] = attempt
            started.attributes["process.pid"] = Int(getpid())
            traceContext = started.context
            span = started
        }
        self.span = span
        // Unstructured because the runner must be able to abandon it at the hard limit in
        // inline mode (a Swift task cannot be killed, only cancelled). It inherits the span's
        // context, a task-local, from the scope it is created in.
        let work = ServiceContext.withValue(traceContext) {
            Task(executorPreference: executor) { try await handler.run(envelope.args, context) }
        }
        self.work = work
        softTimer = softTimeLimit.map { limit in
            Task {
                try? await Task.sleep(for: limit)
                if !Task.isCancelled {
                    context.requestStop(.softTimeLimit)
                    work.cancel()
                }
            }
        }
    }

    /// Asks the task to stop: sets the context's reason and cancels its Swift task.
    func stop(_ reason: TaskContext.StopReason) {
        context.requestStop(reason)
        work.cancel()
    }

    /// The failure of a task whose result is over `limit` bytes.
    static func resultTooLarge(_ size: Int, limit: Int) -> TaskFailure {
        TaskFailure(kind: .error, type: "ResultTooLarge",
                    message: "the result is \(size) bytes, over the limit of \(limit) bytes; store large outputs elsewhere and return a reference",
                    retryable: false)
    }

    /// Waits for the handler's end and classifies it.
    func outcome() async -> Outcome {
        let outcome = await settle()
        if let span {
            if case .failed(let failure) = outcome {
                span.attributes["error.type"] = failure.type
                span.setStatus(SpanStatus(code: .error, message: "\(failure.type): \(failure.message)"))
            }
            span.end()
        }
        return outcome
    }

    private func settle() async -> Outcome {
        defer { softTimer?.cancel() }
        do {
            let value = try await work.value
            let bytes = (try? value.data()).map { Array($0) } ?? Array("null".utf8)
            // The frame to the supervisor has a hard bound; over it the pipe would be torn
            // down. The worker's own, lower limit (`maxResultSize`) is applied by the worker.
            if bytes.count > Frame.maxLength - 64 {
                return .failed(Self.resultTooLarge(bytes.count, limit: Frame.maxLength - 64))
            }
            return .succeeded(bytes)
        } catch let failure as TaskFailure {
            return .failed(failure)
        } catch {
            // A task that let a cancellation error escape after being asked to stop failed
            // because of that request, not because of a bug.
            if let reason = context.stopReason { return .failed(TaskContext.failure(for: reason)) }
            return .failed(TaskFailure(thrown: error))
        }
    }
}
