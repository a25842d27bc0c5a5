import Kale
import Tracing

/// The span of one run of a task in the supervisor (`kale.run <name>`, kind consumer), a
/// child of the producer's span that the task's headers carry.
///
/// It lives in the supervisor, not the child: the supervisor knows how a run ended even
/// when a hard limit, a crash or the memory ceiling killed the child. The child continues the
/// trace under it (``headersForRunner``).
struct RunSpan: Sendable {
    private let span: any Span

    /// Starts the span, or nil when no tracer is bootstrapped.
    static func start(_ envelope: Envelope, _ task: LeasedTask, worker: String) -> RunSpan? {
        guard let tracer = TaskTracing.tracer else { return nil }
        let span = tracer.startSpan("kale.run \(envelope.name)", context: TaskTracing.context(of: envelope.headers), ofKind: .consumer)
        span.attributes["messaging.system"] = "kale"
        span.attributes["messaging.operation.type"] = "process"
        span.attributes["messaging.destination.name"] = task.queue
        span.attributes["messaging.message.id"] = task.id
        span.attributes["kale.task.name"] = envelope.name
        span.attributes["kale.attempt"] = task.attempt
        span.attributes["kale.worker"] = worker
        return RunSpan(span: span)
    }

    /// The W3C headers of this span, for the runner (a child process) to continue the trace.
    var headersForRunner: [String: String] { TaskTracing.headers(of: span.context) }

    /// Ends the span with how the run ended: succeeded, retrying (a `kale.retry` event),
    /// dead, cancelled, rejected, requeued, lease lost.
    func end(outcome: String, failure: TaskFailure? = nil, retryAt: Int64? = nil) {
        span.attributes["kale.outcome"] = outcome
        if let failure {
            span.attributes["error.type"] = failure.type
            if outcome == "retrying" {
                var attributes = SpanAttributes()
                attributes["error.type"] = failure.type
                attributes["exception.message"] = failure.message
                if let retryAt { attributes["kale.retry_at_ms"] = Int(retryAt) }
                span.addEvent(SpanEvent(name: "kale.retry", attributes: attributes))
            } else {
                span.setStatus(SpanStatus(code: .error, message: "\(failure.type): \(failure.message)"))
            }
        }
        span.end()
    }
}
