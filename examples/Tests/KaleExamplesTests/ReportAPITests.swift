import ExampleContracts
import Foundation
import Hummingbird
import HummingbirdTesting
import Kale
import KaleRedis
import KaleTestSupport
import Logging
import NIOCore
import ReportAPI
import Testing

/// The report service's endpoints, driven through Hummingbird's test client against a real
/// Redis (and, for finished tasks, a real worker).
@Suite struct ReportAPITests {
    func app(_ client: KaleClient) -> some ApplicationProtocol {
        ReportAPI.application(client: client, configuration: ApplicationConfiguration(), logger: Logger(label: "test"))
    }

    static func json<T: Decodable>(_ type: T.Type, _ body: ByteBuffer) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(String(buffer: body).utf8))
    }

    struct Accepted: Decodable { var id: String; var status: String }
    struct Status: Decodable {
        var id: String
        var name: String
        var state: String
        var result: JSONValue?
        var error: TaskFailure?
    }

    @Test func postReportEnqueuesAndAnswers202WithTheID() async throws {
        let fixture = KaleFixture()
        let body = try JSONEncoder().encode(ReportInput(title: "Via HTTP", rows: [.object(["label": .string("a"), "value": .number(1)])], outputDir: "/etc"))
        let id = try await app(fixture.client).test(.router) { client in
            let id = try await client.execute(uri: "/reports", method: .post, body: ByteBuffer(bytes: body)) { response in
                #expect(response.status == .accepted)
                let accepted = try Self.json(Accepted.self, response.body)
                #expect(response.headers[.location] == "/tasks/\(accepted.id)")
                return accepted.id
            }
            try await client.execute(uri: "/tasks/\(id)", method: .get) { response in
                #expect(response.status == .ok)
                let status = try Self.json(Status.self, response.body)
                #expect(status.state == "pending" && status.name == TaskNames.report)
            }
            return id
        }
        let info = try #require(try await fixture.client.status(of: id))
        #expect(info.name == TaskNames.report)
        let message = try JSONValue(parsing: Data(try #require(info.message).utf8))
        #expect(message["args"]?["title"] == .string("Via HTTP"))
        #expect(message["args"]?["output_dir"] == nil, "HTTP callers do not choose where workers write")
    }

    @Test func badJSONAnswers400AndEnqueuesNothing() async throws {
        let fixture = KaleFixture()
        try await app(fixture.client).test(.router) { client in
            for (uri, text) in [("/reports", "{not json"), ("/reports", #"{"rows": []}"#), ("/thumbnails", #"{"input": "/a.jpg", "width": "big"}"#), ("/thumbnails", "")] {
                try await client.execute(uri: uri, method: .post, body: ByteBuffer(string: text)) { response in
                    #expect(response.status == .badRequest, "\(uri) with \(text)")
                    #expect(String(buffer: response.body).contains("error"))
                }
            }
        }
        #expect(try await fixture.client.queues().isEmpty, "nothing was enqueued")
    }

    @Test func unknownIDsAnswer404() async throws {
        let fixture = KaleFixture()
        try await app(fixture.client).test(.router) { client in
            for id in [UUID().uuidString.lowercased(), "nope", String(repeating: "x", count: 300), "a%20b"] {
                try await client.execute(uri: "/tasks/\(id)", method: .get) { response in
                    #expect(response.status == .notFound, "id \(id)")
                }
            }
        }
    }

    @Test func finishedTaskAnswersItsResult() async throws {
        let fixture = KaleFixture()
        let out = temporaryDirectory()
        let worker = try ExampleWorkerProcess(fixture: fixture, outputDirectory: out)
        try await worker.waitUntilReady(fixture)
        let body = try JSONEncoder().encode(ThumbnailInput(input: Samples.large, width: 80))
        try await app(fixture.client).test(.router) { client in
            let id = try await client.execute(uri: "/thumbnails", method: .post, body: ByteBuffer(bytes: body)) { response in
                #expect(response.status == .accepted)
                return try Self.json(Accepted.self, response.body).id
            }
            _ = try await fixture.client.wait(for: id, timeout: .seconds(60))
            try await client.execute(uri: "/tasks/\(id)", method: .get) { response in
                let status = try Self.json(Status.self, response.body)
                #expect(status.state == "succeeded")
                let output = try #require(status.result).decode(ImageOutput.self)
                #expect(output.width == 80 && output.height == 60)
                #expect(FileManager.default.fileExists(atPath: output.output))
            }
        }
        await worker.stop()
    }

    @Test func failedTaskAnswersItsError() async throws {
        let fixture = KaleFixture()
        let out = temporaryDirectory()
        let worker = try ExampleWorkerProcess(fixture: fixture, outputDirectory: out)
        try await worker.waitUntilReady(fixture)
        let body = try JSONEncoder().encode(ThumbnailInput(input: "/does/not/exist.jpg", width: 80))
        try await app(fixture.client).test(.router) { client in
            let id = try await client.execute(uri: "/thumbnails", method: .post, body: ByteBuffer(bytes: body)) { response in
                try Self.json(Accepted.self, response.body).id
            }
            _ = try await fixture.client.wait(for: id, timeout: .seconds(60))
            try await client.execute(uri: "/tasks/\(id)", method: .get) { response in
                let status = try Self.json(Status.self, response.body)
                #expect(status.state == "dead" && status.result == nil)
                #expect(status.error?.message.contains("input file not found") == true)
            }
        }
        await worker.stop()
    }

    @Test func redisOutageAnswers503() async throws {
        let server = try RedisServer()
        let fixture = KaleFixture(server: server)
        _ = try await fixture.redis.send("PING")
        server.stop()
        try await app(fixture.client).test(.router) { client in
            let body = try JSONEncoder().encode(ReportInput(title: "x"))
            try await client.execute(uri: "/reports", method: .post, body: ByteBuffer(bytes: body)) { response in
                #expect(response.status == .serviceUnavailable)
            }
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
            }
        }
    }
}
