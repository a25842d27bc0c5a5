import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import KaleWorker
import Testing

/// Workflows end to end: typed tasks on a real worker, real Redis.
@Suite(.timeLimit(.minutes(3))) struct WorkflowTests {
    struct Inc: TaskDefinition {
        static let name = "wf.inc"
        func run(_ input: Int, context: TaskContext) async throws -> Int { input + 1 }
    }
    struct Echo: TaskDefinition {
        static let name = "wf.echo"
        func run(_ input: Int, context: TaskContext) async throws -> Int { input }
    }
    struct Flatten: TaskDefinition {
        static let name = "wf.flatten"
        func run(_ input: [[Int]], context: TaskContext) async throws -> [Int] { input.flatMap { $0 } }
    }
    struct Sum: TaskDefinition {
        static let name = "wf.sum"
        func run(_ input: [Int], context: TaskContext) async throws -> Int { input.reduce(0, +) }
    }
    struct Boom: TaskDefinition {
        static let name = "wf.boom"
        static var defaultOptions: EnqueueOptions { EnqueueOptions(maxRetries: 0) }
        func run(_ input: Int, context: TaskContext) async throws -> Int { throw TaskFailure.rejected("boom at \(input)", type: "Boom") }
    }

    static func registry() -> TaskRegistry {
        let r = TaskRegistry()
        r.register(Inc()); r.register(Echo()); r.register(Flatten()); r.register(Sum()); r.register(Boom())
        return r
    }

    static func step(_ task: String, _ args: JSONValue? = nil) -> WorkflowNode { .step(WorkflowStep(task: task, args: args)) }

    @Test func aChainPassesOutputsAlong() async throws {
        let f = KaleFixture()
        let worker = f.startWorker(registry: Self.registry())
        let wf = try await f.client.submit(.chain([Self.step("wf.inc", 1), Self.step("wf.inc"), Self.step("wf.inc")]))
        let info = try await f.client.waitForWorkflow(wf.id, timeout: .seconds(20))
        try await worker.stop()
        #expect(info.state == "succeeded" && info.result == .number(4), "\(info)")
    }

    @Test func aChordOverTenGroupsOfAHundredGetsAThousandResultsInOrder() async throws {
        let f = KaleFixture()
        let worker = f.startWorker(registry: Self.registry(), concurrency: 4)
        let groups = (0..<10).map { g in WorkflowNode.group((0..<100).map { Self.step("wf.echo", .number(Double(g * 100 + $0))) }) }
        let wf = try await f.client.submit(.chord(group: groups, then: Self.step("wf.flatten")))
        let info = try await f.client.waitForWorkflow(wf.id, timeout: .seconds(60))
        try await worker.stop()
        #expect(info.state == "succeeded")
        #expect(info.result == .array((0..<1000).map { .number(Double($0)) }), "1,000 results, in order (got \(info.result?.arrayValue?.count ?? 0))")
    }

    @Test func aFailedStepFailsTheWorkflowAndNothingAfterItStarts() async throws {
        let f = KaleFixture()
        let worker = f.startWorker(registry: Self.registry())
        let wf = try await f.client.submit(.chain([Self.step("wf.inc", 1), Self.step("wf.boom"), Self.step("wf.inc")]))
        let info = try await f.client.waitForWorkflow(wf.id, timeout: .seconds(20))
        try await Task.sleep(for: .milliseconds(300))
        try await worker.stop()
        #expect(info.state == "failed" && info.failedStep == WorkflowPath([1]), "\(info)")
        #expect(info.error?.type == "Boom")
        let third = try await f.client.status(of: KaleClient.workflowStepID(wf.id, WorkflowPath([2])), queue: "default")
        #expect(third?.state == .cancelled && third?.startedAt == nil, "the third step never starts: \(String(describing: third))")
    }
}
