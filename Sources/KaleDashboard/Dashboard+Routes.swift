import Foundation
import Hummingbird
import Kale
import KaleCLI

extension Dashboard {
    /// Every route: pages, the JSON API, the live stream, assets. docs/dashboard.md lists them.
    func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: SecurityHeaders())
        // A server span per request, child of the caller's traceparent: a service that enqueues
        // over POST /api/tasks continues its trace into the task (a no-op without a tracer).
        router.add(middleware: TracingMiddleware(redactingQueryParameters: ["text", "name", "type", "next"]))
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/assets/:name") { request, context in try await self.serve(request, .open) { _, _ in
            guard let asset = Assets.named(context.parameters.get("name") ?? "") else { throw HTTPError(.notFound) }
            return Reply.asset(asset.bytes, type: asset.type)
        } }
        router.get("/api/openapi.json") { request, _ in try await self.serve(request, .open) { _, _ in
            Reply.asset(Assets.openAPI, type: "application/json")
        } }
        router.get("/login") { request, _ in try await self.serve(request, .open) { visit, page in
            Reply.html(LoginPage.render(page: page, next: visit.query["next"], error: nil), visit: visit)
        } }
        router.post("/login") { request, _ in try await self.serve(request, .open) { visit, page in try self.login(visit, page) } }
        router.post("/logout") { request, _ in try await self.serve(request, .open) { visit, _ in self.logout(visit) } }

        router.get("/") { request, _ in try await self.serve(request, .read) { visit, page in
            let overview = try await Overview.load(self.client)
            let panels = try await self.charts(overview.queues.map(\.queue)) + self.recentEvents()
            return Reply.html(OverviewPage.render(overview, charts: panels, page: page), visit: visit)
        } }
        router.get("/fragments/history") { request, _ in try await self.serve(request, .read) { visit, _ in
            Reply.html(try await self.charts(try await self.client.queues()), visit: visit)
        } }
        router.get("/api/overview") { request, _ in try await self.serve(request, .read) { _, _ in
            let overview = try await Overview.load(self.client)
            guard case .object(var o) = overview.json else { return Reply.json(overview.json) }
            o["history"] = try await self.historyJSON(overview.queues.map(\.queue))
            return Reply.json(.object(o))
        } }
        router.get("/api/queues") { request, _ in try await self.serve(request, .read) { _, _ in
            Reply.json(.array(try await self.client.stats().map(\.json)))
        } }
        router.get("/queues/:queue") { request, context in try await self.serve(request, .read) { visit, page in
            let (listing, stats) = try await self.listing(Self.decoded(context.parameters.get("queue")), visit.query)
            return Reply.html(QueuePage.render(listing, stats: stats, page: page), visit: visit)
        } }
        router.get("/api/queues/:queue/tasks") { request, context in try await self.serve(request, .read) { visit, _ in
            Reply.json(try await self.listing(Self.decoded(context.parameters.get("queue")), visit.query).0.json)
        } }
        router.get("/tasks/:id") { request, context in try await self.serve(request, .read) { visit, page in
            let (info, envelope) = try await self.task(Self.decoded(context.parameters.get("id")), queue: visit.query["queue"])
            let events = try await self.eventsSection(for: info)
            return Reply.html(TaskPage.render(info, envelope: envelope, events: events, page: page), visit: visit)
        } }
        router.get("/api/tasks/:id") { request, context in try await self.serve(request, .read) { visit, _ in
            let (info, envelope) = try await self.task(Self.decoded(context.parameters.get("id")), queue: visit.query["queue"])
            return Reply.json(info.json(envelope: envelope))
        } }
        router.get("/workflows/:id") { request, context in try await self.serve(request, .read) { visit, page in
            let (info, records) = try await self.workflow(Self.decoded(context.parameters.get("id")))
            return Reply.html(WorkflowPage.render(info, records: records, page: page), visit: visit)
        } }
        router.get("/api/workflows/:id") { request, context in try await self.serve(request, .read) { _, _ in
            let (info, records) = try await self.workflow(Self.decoded(context.parameters.get("id")))
            return Reply.json(info.json(records: records))
        } }
        router.get("/workers") { request, _ in try await self.serve(request, .read) { visit, page in
            Reply.html(WorkersPage.render(try await self.client.workers(), page: page, extra: Self.workerDetails), visit: visit)
        } }
        router.get("/api/workers") { request, _ in try await self.serve(request, .read) { _, _ in
            Reply.json(.array(try await self.client.workers().map(\.json)))
        } }
        router.get("/dead") { request, _ in try await self.serve(request, .read) { visit, page in
            let query = try Self.deadQuery(visit.query)
            let result = try await self.client.searchDead(query)
            let offset = min(Self.offset(visit.query), result.matches.count)
            return Reply.html(DeadPage.render(result, query: query, offset: offset, notice: Notice(query: visit.query["notice"]), page: page), visit: visit)
        } }
        router.get("/api/dead") { request, _ in try await self.serve(request, .read) { visit, _ in
            let result = try await self.client.searchDead(try Self.deadQuery(visit.query))
            let offset = min(Self.offset(visit.query), result.matches.count), limit = min(max(Int(visit.query["limit"] ?? "") ?? 50, 1), 1000)
            return Reply.json(.object([
                "total": .number(Double(result.matches.count)), "examined": .number(Double(result.examined)),
                "truncated": .bool(result.truncated), "offset": .number(Double(offset)),
                "tasks": .array(result.matches.dropFirst(offset).prefix(limit).map(\.json)),
            ]))
        } }
        router.get("/api/events") { request, _ in try await self.serve(request, .read) { visit, _ in
            Reply.json(.array(try await self.eventsJSON(visit.query)))
        } }
        router.get("/metrics") { request, _ in try await self.serve(request, .read) { _, _ in try await self.metrics() } }
        router.get("/live") { request, _ in try await self.serve(request, .read) { visit, _ in try self.live(visit) } }
        addActions(to: router)
        return router
    }

    /// A path parameter, percent-decoded (Hummingbird hands it over as sent).
    static func decoded(_ parameter: String?) throws -> String {
        guard let p = parameter, let text = p.removingPercentEncoding, !text.isEmpty else { throw BadRequest("missing path parameter") }
        return text
    }

    /// The `offset` field, 0 when absent or not a number, clamped to 0...Int32.max: no list
    /// is that long, and a position near Int.max would overflow the page arithmetic.
    static func offset(_ fields: FormFields) -> Int {
        min(max(Int(fields["offset"] ?? "") ?? 0, 0), Int(Int32.max))
    }

    /// The dead-set search in `fields` (`name`, `type`, `text`, `queue`).
    static func deadQuery(_ fields: FormFields) throws -> DeadQuery {
        if let q = fields["queue"], !Keys.isValidQueueName(q) { throw BadRequest("'\(q)' is not a valid queue name") }
        return DeadQuery(queue: fields["queue"], name: fields["name"], errorType: fields["type"], text: fields["text"])
    }

    func listing(_ queue: String, _ fields: FormFields) async throws -> (TaskListing, QueueStats) {
        guard Keys.isValidQueueName(queue) else { throw BadRequest("'\(queue)' is not a valid queue name") }
        let stateText = fields["state"] ?? "pending"
        guard let state = BrowseState(rawValue: stateText) else {
            throw BadRequest("unknown state '\(stateText)' (use pending, scheduled, running or dead)")
        }
        let offset = Self.offset(fields)
        async let listing = client.browse(queue: queue, state: state, offset: offset, limit: QueuePage.pageSize, nameContains: fields["name"])
        async let stats = client.stats(of: queue)
        return try await (listing, stats)
    }

    func workflow(_ id: String) async throws -> (WorkflowInfo, [WorkflowPath: TaskInfo]) {
        guard let info = try await client.workflowInfo(id) else { throw NotFound(message: "no workflow \(id) (never submitted, or it expired)") }
        return (info, try await client.workflowSteps(info))
    }

    func task(_ id: String, queue: String?) async throws -> (TaskInfo, Envelope?) {
        if let queue, !Keys.isValidQueueName(queue) { throw BadRequest("'\(queue)' is not a valid queue name") }
        guard let info = try await client.status(of: id, queue: queue) else { throw NotFound(message: "no task \(id) (never enqueued, or its result expired)") }
        let envelope = info.message.flatMap { MessageDisplay.envelope(Array($0.utf8), client.configuration.format) }
        return (info, envelope)
    }
}

/// A missing task or queue: 404.
struct NotFound: Error {
    var message: String
}
