public import ServiceLifecycle

/// A worker can run inside a swift-service-lifecycle `ServiceGroup`, next to an HTTP server
/// for instance: ``Worker/run()`` treats the group's graceful shutdown as a warm shutdown and
/// cancellation as a cold one.
extension Worker: Service {}
