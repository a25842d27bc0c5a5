import Foundation
import Kale
import KaleRedis
import KaleSealing
import KaleTestSupport
import Testing

/// What a signing worker passes from one workflow step to the next (a step's result, a group
/// member's output in its join) is signed where it is stored, and checked before it is passed
/// on: one written by hand fails the workflow with BadSignature and makes no next step.
/// The steps' ends are written here by hand, as a forger would, and carried on with the same
/// call a worker makes (`forwardWorkflowStep`).
@Suite struct SignedStepOutputTests {
    static let keys = "k1:" + Data(repeating: 0x55, count: 32).base64EncodedString()

    static func fixture() -> KaleFixture {
        KaleFixture { $0.format = SealedFormat(keys: try! SigningKeys(parsing: keys)) }
    }

    /// Ends step `task` of workflow `wid` succeeded with `result`, signed as a signing worker
    /// would when `signed`.
    static func end(_ f: KaleFixture, _ wid: String, _ tree: WorkflowNode, _ task: String, result: String, signed: Bool) async throws -> String {
        let path = try #require(tree.steps().first { $0.step.task == task }?.path)
        let id = KaleClient.workflowStepID(wid, path)
        var fields: [any RedisArgument] = [f.keys.task("default", id), "state", "succeeded", "result", result]
        if signed {
            fields += ["result_sig", try #require(try f.configuration.format.signature(of: Array(result.utf8),
                                                                                     context: KaleClient.stepResultContext(id)))]
        }
        try await f.redis.send(RedisCommand("HSET", arguments: fields))
        #expect(try await f.client.forwardWorkflowStep(id, queue: "default"))
        return id
    }

    /// The state of step `task`: nil when never created, `cancelled` for the mark a failed
    /// workflow leaves for a step it will never make.
    static func state(_ f: KaleFixture, _ wid: String, _ tree: WorkflowNode, _ task: String) async throws -> String? {
        let path = try #require(tree.steps().first { $0.step.task == task }?.path)
        return try await f.redis.send("HGET", f.keys.task("default", KaleClient.workflowStepID(wid, path)), "state").string
    }

    @Test func aStepResultIsPassedOnOnlyWithItsSignature() async throws {
        let f = Self.fixture()
        let tree = WorkflowNode.chain([.step(WorkflowStep(task: "test.first")), .step(WorkflowStep(task: "test.second"))])
        let good = try await f.client.submit(tree)
        let forged = try await f.client.submit(tree)

        _ = try await Self.end(f, good.id, tree, "test.first", result: "99", signed: true)
        let secondPath = try #require(tree.steps().last?.path)
        let next = try await f.redis.send("HGET", f.keys.task("default", KaleClient.workflowStepID(good.id, secondPath)), "msg").string
        #expect(next?.contains(#""args":99"#) == true, "the signed result is the next step's input: \(next ?? "none")")

        _ = try await Self.end(f, forged.id, tree, "test.first", result: "666", signed: false)
        let info = try #require(try await f.client.workflowInfo(forged.id))
        #expect(info.state == "failed" && info.error?.type == "BadSignature", "\(info.state) \(String(describing: info.error))")
        #expect(try await Self.state(f, forged.id, tree, "test.second") == "cancelled", "no next step from an unsigned result")
    }

    @Test func aGroupOutputChangedInItsJoinIsNotPassedOn() async throws {
        let f = Self.fixture()
        let tree = WorkflowNode.chord(group: [.step(WorkflowStep(task: "test.a")), .step(WorkflowStep(task: "test.b"))],
                                      then: .step(WorkflowStep(task: "test.then")))
        let good = try await f.client.submit(tree)
        let forged = try await f.client.submit(tree)
        for ref in [good, forged] {
            _ = try await Self.end(f, ref.id, tree, "test.a", result: "1", signed: true)
        }
        // The first member's output, as its join holds it, replaced in the forged one.
        let groupPath = try #require(tree.steps().first { $0.step.task == "test.a" }?.path.parent)
        let join = f.keys.workflowJoin(forged.id, groupPath.description)
        #expect(try await f.redis.send("HGET", join, "0").string?.contains(#""sig":"#) == true, "the join entry is signed")
        try await f.redis.send("HSET", join, "0", #"{"o":666}"#)
        for ref in [good, forged] {
            _ = try await Self.end(f, ref.id, tree, "test.b", result: "2", signed: true)
        }

        #expect(try await Self.state(f, good.id, tree, "test.then") == "pending")
        let info = try #require(try await f.client.workflowInfo(forged.id))
        #expect(info.state == "failed" && info.error?.type == "BadSignature", "\(info.state) \(String(describing: info.error))")
        #expect(try await Self.state(f, forged.id, tree, "test.then") == "cancelled", "no callback from a changed output")
    }

    @Test func aSignedResultCopiedToAnotherPlaceIsNotPassedOn() async throws {
        let f = Self.fixture()
        let tree = WorkflowNode.chain([.step(WorkflowStep(task: "test.first")), .step(WorkflowStep(task: "test.second"))])
        let source = try await f.client.submit(tree)
        let victim = try await f.client.submit(tree)
        // The source's first step, signature and all, under its own id in another queue's
        // record, marked as the victim's first step.
        let firstPath = try #require(tree.steps().first?.path)
        let id = KaleClient.workflowStepID(source.id, firstPath)
        let sig = try #require(try f.configuration.format.signature(of: Array("99".utf8), context: KaleClient.stepResultContext(id)))
        try await f.redis.send("HSET", f.keys.task("other", id), "wf", "\(victim.id)|\(firstPath)", "state", "succeeded",
                               "result", "99", "result_sig", sig)
        #expect(try await f.client.forwardWorkflowStep(id, queue: "other"))
        #expect(try await Self.state(f, victim.id, tree, "test.second") == nil, "nothing made for the victim")
        #expect(try await f.client.workflowInfo(victim.id)?.state == "running")
    }

    @Test func collectingFailuresCannotBeSwitchedOnBesideASignedTree() async throws {
        let f = Self.fixture()
        let tree = WorkflowNode.chain([.step(WorkflowStep(task: "test.first")), .step(WorkflowStep(task: "test.second"))])
        let ref = try await f.client.submit(tree)
        try await f.redis.send("HSET", f.keys.workflow(ref.id), "collect", 1)
        let firstPath = try #require(tree.steps().first?.path)
        let id = KaleClient.workflowStepID(ref.id, firstPath)
        try await f.redis.send("HSET", f.keys.task("default", id), "state", "dead",
                               "error", #"{"kind":"error","type":"Chosen","message":"an input of the forger's choosing","retryable":false}"#)
        #expect(try await f.client.forwardWorkflowStep(id, queue: "default"))
        let info = try #require(try await f.client.workflowInfo(ref.id))
        #expect(info.state == "failed" && info.error?.type == "BadSignature", "\(info.state) \(String(describing: info.error))")
        #expect(try await Self.state(f, ref.id, tree, "test.second") == nil, "the error did not become an input")
    }
}
