import ExampleContracts
public import Hummingbird
public import Kale
import KaleRedis
public import Logging

/// The report service's HTTP API: the producer side of the examples.
///
/// - `POST /reports` (a ``ReportInput``) and `POST /thumbnails` (a ``ThumbnailInput``)
///   enqueue a task and answer `202 Accepted` with `{"id": …}` and a `Location` header.
/// - `GET /tasks/{id}` answers the task's state, progress and, once it has ended, its
///   result or error; `404` for an id Redis does not know.
/// - `GET /health` answers `200` while Redis answers, else `503`.
///
/// The service never renders anything itself: every request costs one Redis round trip
/// or two, so it stays fast however busy the workers are.
public struct ReportAPI: Sendable {
    /// The producer client the routes enqueue with.
    public let client: KaleClient

    /// Creates the API over `client`.
    public init(client: KaleClient) {
        self.client = client
    }

    /// Adds the routes to `router`.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.post("reports") { request, context in
            var input = try await request.decode(as: ReportInput.self, context: context)
            // Callers do not choose where workers write on their disks.
            input.outputDir = nil
            return try await self.enqueue(TaskNames.report, arguments: input.arguments)
        }
        router.post("thumbnails") { request, context in
            var input = try await request.decode(as: ThumbnailInput.self, context: context)
            input.outputDir = nil
            return try await self.enqueue(TaskNames.thumbnail, arguments: JSONValue(encoding: input))
        }
        router.get("tasks/:id") { _, context in
            let id = try context.parameters.require("id")
            return try await self.status(of: id)
        }
        router.get("health") { _, _ in
            do {
                _ = try await self.client.redis.send("PING")
                return HealthResponse(status: "ok")
            } catch {
                throw HTTPError(.serviceUnavailable, message: "Redis does not answer")
            }
        }
    }

    /// Builds the whole application: the routes behind request logging.
    public static func application(client: KaleClient, configuration: ApplicationConfiguration, logger: Logger) -> some ApplicationProtocol {
        let router = Router(context: APIRequestContext.self)
        router.middlewares.add(LogRequestsMiddleware(.debug))
        ReportAPI(client: client).addRoutes(to: router)
        return Application(router: router, configuration: configuration, logger: logger)
    }

    func enqueue(_ name: String, arguments: JSONValue) async throws -> EditedResponse<AcceptedResponse> {
        let ref = try await backend {
            try await client.enqueue(name: name, args: arguments)
        }
        return EditedResponse(
            status: .accepted,
            headers: [.location: "/tasks/\(ref.id)"],
            response: AcceptedResponse(id: ref.id, status: "/tasks/\(ref.id)"))
    }

    func status(of id: String) async throws -> TaskStatusResponse {
        // Kale's ids are UUIDs; anything unlike an id cannot name a task, so it is not
        // worth a Redis lookup (and never becomes part of a key).
        guard (1...200).contains(id.count), id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) }) else {
            throw HTTPError(.notFound, message: "no task with this id")
        }
        guard let info = try await backend({ try await client.status(of: id) }) else {
            throw HTTPError(.notFound, message: "no task with this id (never enqueued, or its result expired)")
        }
        return TaskStatusResponse(info)
    }

    /// Runs a Redis call, turning "Redis is down" into 503 and refused input into 4xx, so
    /// a client can tell its own mistakes from ours.
    private func backend<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as KaleError where error.code == .payloadTooLarge {
            throw HTTPError(.contentTooLarge, message: error.detail)
        } catch let error as KaleError where error.code == .invalidOptions || error.code == .encoding {
            throw HTTPError(.badRequest, message: error.detail)
        } catch is RedisError {
            throw HTTPError(.serviceUnavailable, message: "the task queue is unavailable; try again")
        }
    }
}
