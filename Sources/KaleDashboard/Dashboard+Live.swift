import Foundation
import Hummingbird
import Kale
import KaleCLI
import ServiceLifecycle

extension Dashboard {
    /// The longest a task page's live stream stays open.
    static let taskStreamLimit: Duration = .seconds(3600)

    /// `GET /live`: server-sent events. Without parameters, the shared overview feed (every
    /// queue's counts and the workers, at most once a second); with `task` and `queue`, that
    /// task's record whenever it changes, read once a second, until it ends (`event: end`).
    func live(_ visit: Visit) throws -> Response {
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-store"]
        // EventSource reconnects by itself; 2 s keeps a restarting dashboard from being hammered.
        let preamble = ByteBuffer(string: "retry: 2000\n\n")
        if let id = visit.query["task"] {
            guard let queue = visit.query["queue"], Keys.isValidQueueName(queue) else { throw BadRequest("task needs a valid queue") }
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                try await writer.write(preamble)
                try await self.followTask(id: id, queue: queue, writer: &writer)
                try await writer.finish(nil)
            })
        }
        let frames = feed.subscribe()
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await writer.write(preamble)
            for await frame in frames { try await writer.write(ByteBuffer(string: frame)) }
            try await writer.finish(nil)
        })
    }

    /// How often a live stream that has nothing to say sends a `: ping` comment: proxies and
    /// browsers close streams that stay silent, and an idle-timeout of our own must never be
    /// the first to fire. 15 s, or half the idle timeout if that is shorter.
    var pingInterval: Duration { min(.seconds(15), settings.idleTimeout / 2) }

    private func followTask(id: String, queue: String, writer: inout any ResponseBodyWriter) async throws {
        let end = ContinuousClock.now + Self.taskStreamLimit
        var last = ""
        var lastWrite = ContinuousClock.now
        while ContinuousClock.now < end, !Task.isCancelled, !Task.isShuttingDownGracefully {
            guard let info = try await client.broker.info(id: id, queue: queue) else {
                try await writer.write(ByteBuffer(string: "event: end\ndata: {\"state\":\"missing\"}\n\n"))
                return
            }
            let json = info.json().jsonString
            if json != last {
                try await writer.write(ByteBuffer(string: "event: task\ndata: " + json + "\n\n"))
                (last, lastWrite) = (json, .now)
            } else if ContinuousClock.now - lastWrite >= pingInterval {
                try await writer.write(ByteBuffer(string: ": ping\n\n"))
                lastWrite = .now
            }
            if info.state.isTerminal {
                try await writer.write(ByteBuffer(string: "event: end\ndata: {\"state\":\"\(info.state.rawValue)\"}\n\n"))
                return
            }
            try await Task.sleep(for: .seconds(1))
        }
    }
}
