import Foundation
import Hummingbird
import HummingbirdCore
public import Kale
import KaleRedis
public import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// The web dashboard: pages, the JSON API and the live view over one ``KaleClient``.
///
/// ```swift
/// let dashboard = Dashboard(client: client, settings: DashboardSettings(port: 8080))
/// try await dashboard.run()   // until SIGTERM or SIGINT
/// ```
/// Embedders usually pass ``DashboardCommand`` to `KaleCLI.main` instead (docs/dashboard.md).
public final class Dashboard: Sendable {
    let client: KaleClient
    let settings: DashboardSettings
    /// The tasks of the executable serving the dashboard, whose declared defaults
    /// `POST /api/tasks` applies.
    let registry: TaskRegistry
    let access: AccessControl
    let feed: LiveFeed
    let history: HistoryCache
    let logger: Logger

    /// - Parameters:
    ///   - client: the Kale installation shown.
    ///   - settings: the address, the token and the mode.
    ///   - registry: tasks whose ``TaskDefinition/defaultOptions`` an enqueue by name over
    ///     `POST /api/tasks` applies to what the request leaves unset (default: none, so only
    ///     the request's fields and the worker's defaults count).
    ///   - logger: where the server logs.
    public init(client: KaleClient, settings: DashboardSettings, registry: TaskRegistry = TaskRegistry(),
                logger: Logger = Logger(label: "kale.dashboard")) {
        self.client = client
        self.settings = settings
        self.registry = registry
        self.logger = logger
        access = AccessControl(settings: settings)
        feed = LiveFeed(client: client, logger: logger)
        history = HistoryCache(client: client)
    }

    /// Serves until a graceful shutdown (SIGTERM, SIGINT), which ends the live streams first.
    ///
    /// - Parameter onRunning: called once the server listens.
    /// - Throws: when the address cannot be bound.
    public func run(onRunning: @escaping @Sendable () async -> Void = {}) async throws {
        let app = Application(
            router: router(),
            server: .http1(configuration: .init(idleTimeout: TimeAmount(settings.idleTimeout))),
            configuration: .init(address: .hostname(settings.bind, port: settings.port), serverName: "kale-dashboard",
                                 availableConnectionsDelegate: MaximumAvailableConnections(256)),
            onServerRunning: { _ in await onRunning() },
            logger: logger)
        // The feed is listed last so it is stopped first: its streams end, and the server's
        // quiesce does not wait on open live views.
        let group = ServiceGroup(services: [app, feed], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }

    /// The context for templates of the request `visit`.
    func page(_ visit: Visit) -> PageContext {
        // The page's own address, for forms that come back to it; a notice is not part of it.
        let pairs = visit.query.pairs.filter { $0.name != "notice" }
        let query = pairs.isEmpty ? "" : "?" + pairs.map { FormFields.encode($0.name) + "=" + FormFields.encode($0.value) }.joined(separator: "&")
        return PageContext(settings: settings, csrf: visit.csrf, authenticated: visit.authenticated, path: visit.path + query,
                           mayRead: visit.authenticated || readsWithoutToken(visit))
    }
}
