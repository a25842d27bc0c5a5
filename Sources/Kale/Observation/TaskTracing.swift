public import Tracing

/// W3C trace context (`traceparent`, `tracestate`) carried in a task's headers: how a trace
/// crosses from a producer to the worker that runs its task, and from a Celery producer too
/// (the bridge keeps Celery's headers of the same names).
public struct HeaderInjector: Injector {
    public init() {}
    public func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

/// Reads trace context back out of a task's headers.
public struct HeaderExtractor: Extractor {
    public init() {}
    public func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

/// The tracing of Kale's own steps. Every entry point first asks whether a tracer is
/// bootstrapped at all: without one (the default) a call costs a task-local read and a type
/// check, and formats no span name.
public enum TaskTracing {
    /// The process's tracer, or nil when tracing is off (nothing bootstrapped).
    public static var tracer: (any Tracer)? {
        let tracer = InstrumentationSystem.tracer
        return tracer is NoOpTracer ? nil : tracer
    }

    /// Starts the producer span of enqueueing `count` tasks named `name` and writes its
    /// context into `headers`; nil when tracing is off. `system` is `kale`, or `celery` for a
    /// message sent to Celery workers.
    public static func startEnqueue(name: String, queue: String, count: Int, headers: inout [String: String],
                                    system: String = "kale") -> (any Span)? {
        guard let tracer else { return nil }
        let span = tracer.startSpan("\(system).enqueue \(name)", context: .current ?? .topLevel, ofKind: .producer)
        span.attributes["messaging.system"] = system
        span.attributes["messaging.operation.type"] = "send"
        span.attributes["messaging.destination.name"] = queue
        span.attributes["kale.task.name"] = name
        if count > 1 { span.attributes["messaging.batch.message_count"] = count }
        tracer.inject(span.context, into: &headers, using: HeaderInjector())
        return span
    }

    /// The context a task's headers carry (its producer's span), for the spans of its run.
    public static func context(of headers: [String: String]) -> ServiceContext {
        var context = ServiceContext.topLevel
        guard let tracer, headers["traceparent"] != nil else { return context }
        tracer.extract(headers, into: &context, using: HeaderExtractor())
        return context
    }

    /// The W3C headers of `context` (for a child process, which continues the run's span).
    public static func headers(of context: ServiceContext) -> [String: String] {
        var headers: [String: String] = [:]
        tracer?.inject(context, into: &headers, using: HeaderInjector())
        return headers
    }
}
