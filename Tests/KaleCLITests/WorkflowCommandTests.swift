import Foundation
import Kale
import KaleTestSupport
import Testing

/// `kale workflow submit|show|cancel` against a real worker daemon and Redis.
@Suite(.serialized, .timeLimit(.minutes(2))) struct WorkflowCommandTests {
    @Test func submitWaitsShowsTheTreeAndRefusesBadDocuments() async throws {
        let cli = CLI(prefix: testNamespace())
        let worker = try cli.startWorker()
        let doc = #"""
        {"workflow": {"chain": [{"task": "kale.echo", "args": {"n": 1}},
                                {"chord": {"group": [{"task": "kale.echo"}, {"task": "kale.echo"}], "then": {"task": "kale.echo"}}}]},
         "on_error": {"task": "kale.noop"}}
        """#
        let run = try await cli.run(["workflow", "submit", "-", "--wait", "--json", "--timeout", "20s"], stdin: doc)
        #expect(run.status == 0, "\(run)")
        let outcome = try #require(try run.json().first)
        #expect(outcome["state"] == .string("succeeded"))
        #expect(outcome["result"] == .array([.object(["n": .number(1)]), .object(["n": .number(1)])]), "\(outcome)")
        let id = try #require(outcome["id"]?.stringValue)

        let show = try await cli.run(["workflow", "show", id, "--json"])
        let shown = try #require(try show.json().first, "\(show)")
        let steps = try #require(shown["steps"]?.arrayValue)
        #expect(steps.map { $0["path"]?.stringValue } == ["0", "1.0.0", "1.0.1", "1.1"])
        #expect(steps.allSatisfy { $0["state"] == .string("succeeded") && $0["attempts"] == .number(1) && $0["worker"] != nil })
        let text = try await cli.run(["workflow", "show", id])
        #expect(text.lines.first == "workflow \(id): succeeded" && text.stdout.contains("chord") && text.stdout.contains("then"), "\(text)")

        let failed = try await cli.run(["workflow", "submit", "-", "--wait"],
                                       stdin: #"{"chain": [{"task": "kale.fail", "args": {"message": "no"}, "retries": 0}, {"task": "kale.echo"}]}"#)
        #expect(failed.status == 1 && failed.stdout.contains("failed at step 0: Failure: no"), "\(failed)")
        #expect(failed.stderr.contains("kale workflow show"), "\(failed)")
        #expect(try await worker.stop().status == 0)
    }

    static let refusals: [(String, String)] = [
        (#"{"chain": []}"#, "$.chain: is empty"),
        (#"{"group": [{"task": "a", "colour": "red"}]}"#, "$.group[0]: unknown key 'colour'"),
        (#"{"workflow": {"task": "a"}, "retry": 1}"#, "$: unknown key 'retry'"),
        (#"{not json"#, "is not valid JSON"),
    ]

    @Test(arguments: refusals)
    func aBadDocumentIsRefusedBeforeAnythingIsEnqueued(_ doc: String, says: String) async throws {
        let cli = CLI(prefix: testNamespace())
        let run = try await cli.run(["workflow", "submit", "-"], stdin: doc)
        #expect(run.status == 2 && run.stderr.contains(says), "\(run)")
        #expect(try await keys(under: cli.prefix).isEmpty, "nothing was written")
    }

    @Test func unknownWorkflowsExitOne() async throws {
        let cli = CLI(prefix: testNamespace())
        for command in [["workflow", "show", "wf-nope"], ["workflow", "cancel", "wf-nope"]] {
            let run = try await cli.run(command)
            #expect(run.status == 1 && run.stderr.contains("no workflow wf-nope"), "\(run)")
        }
    }
}
