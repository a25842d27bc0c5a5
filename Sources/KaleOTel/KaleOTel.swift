public import Foundation
import Kale
import Logging
import OTel
import ServiceLifecycle
import Synchronization
import Tracing

/// Exports Kale's spans (and the handlers' own) over OTLP/HTTP with swift-otel, when the
/// standard `OTEL_*` environment asks for it.
///
/// Kept out of the core (decision 0021): it brings NIO, AsyncHTTPClient and SwiftProtobuf, which
/// a producer that imports `Kale` must not compile. `kale-full` calls ``bootstrapFromEnvironment(serviceName:)``
/// first thing; a user's own executable can do the same. Without `OTEL_*` nothing is bootstrapped
/// and Kale's spans cost a type check each.
public enum KaleOTel {
    /// Whether `environment` asks for traces to be exported: `OTEL_SDK_DISABLED` is not true,
    /// and `OTEL_TRACES_EXPORTER` is set (and not `none`) or an OTLP endpoint is. An
    /// unconfigured worker must not dial localhost:4318 on its own.
    public static func isRequested(_ environment: [String: String]) -> Bool {
        if environment["OTEL_SDK_DISABLED"]?.lowercased() == "true" { return false }
        if let exporter = environment["OTEL_TRACES_EXPORTER"] { return exporter.lowercased() != "none" }
        return environment["OTEL_EXPORTER_OTLP_ENDPOINT"] != nil || environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] != nil
    }

    /// Bootstraps the tracer and starts its exporter in the background when the environment
    /// asks for it; registers a ``ProcessExit`` hook that flushes the last spans (at most 2 s).
    /// Returns whether tracing is on. Call once, before anything starts a span.
    /// - Parameter serviceName: `service.name` unless `OTEL_SERVICE_NAME` says otherwise.
    /// - Throws: when the OTel configuration from the environment is invalid.
    @discardableResult
    public static func bootstrapFromEnvironment(serviceName: String,
                                                environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Bool {
        guard isRequested(environment) else { return false }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        // Only traces: Kale's metrics go to Prometheus, its logs to stderr.
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        // Its own notes (each variable it read) would fill every command's stderr; problems still show.
        configuration.diagnosticLogLevel = .warning
        let (tracer, service) = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(tracer)
        let group = ServiceGroup(configuration: .init(services: [service], logger: Logger(label: "kale.otel")))
        // Unstructured: the exporter runs for the life of the process, beside whatever command runs.
        let exporter = Task { try? await group.run() }
        ProcessExit.register {
            // A graceful shutdown makes the batch processor export what it holds, then return;
            // at most 2 s, so an unreachable collector cannot hold the exit (a child's retire
            // waits 2 s before it kills).
            await group.triggerGracefulShutdown()
            let finished = Atomic<Bool>(false)
            // Unstructured: awaiting the exporter itself could not be given up on.
            Task {
                _ = await exporter.value
                finished.store(true, ordering: .sequentiallyConsistent)
            }
            let deadline = ContinuousClock.now + .milliseconds(1800)
            while !finished.load(ordering: .sequentiallyConsistent), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        return true
    }
}
