import Kale
public import Prometheus

/// A Prometheus registry and the swift-metrics factory that fills it, set up for Kale's
/// metrics: the run- and wait-time histograms use ``HistoryBuckets``, the same buckets as the
/// Redis history, so a Grafana panel and the dashboard's chart agree.
///
/// Not bootstrapped globally: a worker gets the factory through its configuration, so an
/// embedding app's own `MetricsSystem.bootstrap` never collides with it.
public struct PrometheusExporter: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = HistoryBuckets.bounds
        self.factory = factory
    }

    /// The text exposition format (version 0.0.4) of everything registered.
    public func render() -> [UInt8] { registry.emitToBuffer() }
}
