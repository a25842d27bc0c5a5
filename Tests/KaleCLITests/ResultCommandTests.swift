import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import Testing

@Suite struct ResultCommandTests {
    @Test func showsStateAndResultOfAFinishedTask() async throws {
        let cli = CLI(prefix: testNamespace())
        let id = try #require(try await cli.run(["enqueue", "kale.echo", "--args", #"{"a":[1,2]}"#]).lines.first)

        let pending = try await cli.run(["result", id])
        #expect(pending.status == 1, "a task that has not ended is not a success")
        #expect(pending.lines == ["\(id) pending"])
        #expect(pending.stderr.contains("has not ended"))

        let worker = try cli.startWorker()
        let waited = try await cli.run(["result", id, "--wait", "--timeout", "20s", "--json"])
        #expect(waited.status == 0, "\(waited)")
        let task = try #require(try waited.json().first)
        #expect(task.string("id") == id && task.string("state") == "succeeded" && task.string("name") == "kale.echo")
        #expect(task["result"] == .object(["a": .array([.number(1), .number(2)])]))
        #expect(task.string("finished_at") != nil && task.number("attempts") == 1)

        let again = try await cli.run(["result", id, "--queue", "default"])
        #expect(again.status == 0 && again.lines == [#"\#(id) succeeded {"a":[1,2]}"#], "\(again)")
        #expect(try await worker.stop().status == 0)
    }

    @Test func missingTaskExitsOne() async throws {
        let cli = CLI(prefix: testNamespace())
        let run = try await cli.run(["result", "no-such-id"])
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.hasPrefix("kale: error: no task no-such-id"))
        let waited = try await cli.run(["result", "no-such-id", "--wait", "--timeout", "1s"])
        #expect(waited.status == 1 && waited.stderr.contains("no task no-such-id"), "\(waited)")
    }

    @Test func waitGivesUpAfterTimeout() async throws {
        let cli = CLI(prefix: testNamespace())
        let id = try #require(try await cli.run(["enqueue", "kale.noop", "--delay", "1h"]).lines.first)
        let start = ContinuousClock.now
        let run = try await cli.run(["result", id, "--wait", "--timeout", "300ms"])
        #expect(ContinuousClock.now - start >= .milliseconds(300))
        #expect(run.status == 1)
        #expect(run.lines == ["\(id) scheduled"])
        #expect(run.stderr.contains("did not end within 300ms"))
    }
}

@Suite struct CancelCommandTests {
    @Test func cancelsAWaitingTask() async throws {
        let cli = CLI(prefix: testNamespace())
        let client = cli.client()
        let id = try #require(try await cli.run(["enqueue", "kale.noop"]).lines.first)
        let run = try await cli.run(["cancel", id])
        #expect(run.status == 0 && run.lines == ["cancelled \(id)"], "\(run)")
        #expect(try await client.status(of: id, queue: "default")?.state == .cancelled)
        #expect(try await client.redis.send("LLEN", Keys(prefix: cli.prefix).pending("default", .normal)).int == 0)

        let again = try await cli.run(["cancel", id, "--json"])
        #expect(again.status == 0, "\(again)")
        let object = try #require(try again.json().first)
        #expect(object.string("outcome") == "already_ended" && object.string("state") == "cancelled")
    }

    @Test func asksTheWorkerToStopARunningTask() async throws {
        let cli = CLI(prefix: testNamespace())
        let client = cli.client()
        let worker = try cli.startWorker()
        let id = try #require(try await cli.run(["enqueue", "kale.sleep", "--args", #"{"ms":20000}"#]).lines.first)
        #expect(try await waitUntil(timeout: .seconds(10)) { try await client.status(of: id)?.state == .started })
        let run = try await cli.run(["cancel", id, "--json"])
        #expect(run.status == 0, "\(run)")
        #expect(try run.json().first?.string("outcome") == "requested")
        let ended = try await cli.run(["result", id, "--wait", "--timeout", "10s"])
        #expect(ended.status == 1)
        #expect(ended.lines.first?.hasPrefix("\(id) cancelled") == true, "\(ended)")
        #expect(try await worker.stop().status == 0)
    }

    @Test func missingTaskExitsOne() async throws {
        let cli = CLI(prefix: testNamespace())
        let run = try await cli.run(["cancel", "no-such-id"])
        #expect(run.status == 1 && run.stdout.isEmpty)
        #expect(run.stderr.hasPrefix("kale: error: no task no-such-id"))
    }
}
