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

    struct Show: TaskDefinition {
        static let name = "wf.show"
        func run(_ input: Int, context: TaskContext) async throws -> String { "n=\(input)" }
    }
    struct Nap: TaskDefinition {
        static let name = "wf.nap"
        func run(_ input: Int, context: TaskContext) async throws -> Int {
            for _ in 0..<(input / 10) {
                try context.checkCancellation()
                try await Task.sleep(for: .milliseconds(10))
            }
            return input
        }
    }

    struct Note: TaskDefinition {
        static let name = "wf.note"
        func run(_ input: JSONValue, context: TaskContext) async throws -> JSONValue { input }
    }
    struct CountErrors: TaskDefinition {
        static let name = "wf.count-errors"
        func run(_ input: [JSONValue], context: TaskContext) async throws -> Int { input.filter { $0["error"] != nil }.count }
    }

    struct Big: TaskDefinition {
        static let name = "wf.big"
        func run(_ input: Int, context: TaskContext) async throws -> String { String(repeating: "x", count: 2 << 20) }
    }

    static func registry() -> TaskRegistry {
        let r = TaskRegistry()
        r.register(Inc()); r.register(Echo()); r.register(Flatten()); r.register(Sum()); r.register(Boom())
        r.register(Show()); r.register(Nap()); r.register(Note()); r.register(CountErrors()); r.register(Big())
        return r
    }

    static func step(_ task: String, _ args: JSONValue? = nil) -> WorkflowNode { .step(WorkflowStep(task: task, args: args)) }

    @Test func aChainPassesOutputsAlongAndItsRecordsExpireTogether() async throws {
        let f = KaleFixture()
        let worker = f.startWorker(registry: Self.registry())
        let wf = try await f.client.submit(.chain([Self.step("wf.inc", 1), .group([Self.step("wf.inc"), Self.step("wf.inc")]),
                                                   Self.step("wf.sum")]), ttl: .seconds(300))
        let info = try await f.client.waitForWorkflow(wf.id, timeout: .seconds(20))
        try await worker.stop()
        #expect(info.state == "succeeded" && info.result == .number(6), "\(info)")
        // The steps (default result TTL a day), the group's outputs and the workflow: 300 s.
        var keys = [f.keys.workflow(wf.id), f.keys.workflowJoin(wf.id, "1")]
        keys += WorkflowPlan(info.tree).root.steps().map { f.keys.task("default", KaleClient.workflowStepID(wf.id, $0.path)) }
        for key in keys {
            let ttl = try await f.redis.send("PTTL", key).int ?? -3
            #expect((290_000...300_000).contains(ttl), "\(key) expires with its workflow: \(ttl)")
        }
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

    @Test func typedFlowsChainGroupAndNest() async throws {
        let f = KaleFixture()
        let worker = f.startWorker(registry: Self.registry(), concurrency: 4)
        // The compiler checks each link: Inc takes Int, gives Int; the group of Incs gives
        // [Int], which Sum takes; Show takes Sum's Int and gives a String.
        let flow = Workflow.step(Inc.self, input: 1)
            .then(Workflow.step(Inc.self))
            .then(Workflow.chord((0..<5).map { _ in Workflow.step(Inc.self) }, then: Workflow.step(Sum.self)))
            .then(Workflow.group([Workflow.step(Show.self), Workflow.step(Inc.self).then(Workflow.step(Show.self))]))
        let handle = try await f.client.submit(flow)
        let output = try await handle.result(timeout: .seconds(20))
        try await worker.stop()
        // 1 → 2 → 3; five times 3 + 1 = 20; ["n=20", "n=21"]
        #expect(output == ["n=20", "n=21"])
        let steps = try #require(try await handle.info()).tree.steps()
        #expect(steps.count == 11 && steps.allSatisfy { $0.step.options.queue == "default" }, "the queues are settled at submit")
    }

    @Test func cancellingARunningWorkflowStopsItsStepsWithinASecondAndLeavesNothingPending() async throws {
        let f = KaleFixture()
        let worker = f.startWorker(registry: Self.registry(), concurrency: 2)
        let flow = Workflow.group((0..<6).map { _ in Workflow.step(Nap.self, input: 30_000) })
            .then(Workflow.step(Sum.self))
        let handle = try await f.client.submit(flow)
        let ids = (0..<6).map { KaleClient.workflowStepID(handle.id, WorkflowPath([0, $0])) }
        #expect(await waitUntil(timeout: .seconds(10)) { (try? await f.client.stats(of: "default").active) ?? 0 >= 2 })
        try await Task.sleep(for: .milliseconds(200))
        let cancelledAt = ContinuousClock.now
        #expect(try await handle.cancel())
        #expect(await waitUntil(timeout: .seconds(5)) {
            let states = await ids.asyncMap { try? await f.client.status(of: $0, queue: "default")?.state }
            return states.allSatisfy { $0 == .cancelled }
        })
        let took = ContinuousClock.now - cancelledAt
        print("workflow cancel: every step cancelled \(took) after the cancel")
        #expect(took < .seconds(1), "running steps stop within a second")
        try await worker.stop()
        let stats = try await f.client.stats(of: "default")
        #expect(stats.pendingTotal == 0 && stats.active == 0 && stats.scheduled == 0, "nothing pending: \(stats)")
        let callback = try await f.client.status(of: KaleClient.workflowStepID(handle.id, WorkflowPath([1])), queue: "default")
        #expect(callback?.state == .cancelled && callback?.startedAt == nil)
        #expect(try await handle.info()?.state == "cancelled")
        do {
            _ = try await handle.result(timeout: .seconds(1))
            Issue.record("a cancelled workflow has no result")
        } catch let failure as TaskFailure {
            #expect(failure.type == "Cancelled")
        }
    }

    @Test func aTreeTheStoredFormCannotHoldIsRefusedAtSubmit() async throws {
        let f = KaleFixture()
        await #expect(throws: WorkflowError.self) { try await f.client.submit(.chain([])) }
        await #expect(throws: WorkflowError.self) { try await f.client.submit(.group([Self.step("a"), .group([])])) }
        let delayed = WorkflowNode.step(WorkflowStep(task: "a", options: EnqueueOptions(delay: .seconds(5))))
        await #expect(throws: WorkflowError.self, "an option the stored tree would drop") { try await f.client.submit(delayed) }
        #expect(try await f.redis.send("KEYS", f.keys.prefix + ":*").strings?.isEmpty == true, "nothing was written")
    }

    @Test func aRefusedDuplicateChangesNothing() async throws {
        let f = KaleFixture()
        let first = try await f.client.submit(Self.step("wf.inc", 1), id: "wf-dup")
        let before = try await f.redis.send("HGETALL", f.keys.workflow(first.id)).hash
        await #expect(throws: KaleError.self) {
            try await f.client.submit(Self.step("wf.inc", 2), id: "wf-dup", onError: WorkflowStep(task: "wf.note"), collectFailures: true)
        }
        #expect(try await f.redis.send("HGETALL", f.keys.workflow(first.id)).hash == before)
    }

    @Test func aNextStepThatCannotBeMadeFailsTheWorkflowInsteadOfStallingIt() async throws {
        let f = KaleFixture()
        let worker = f.startWorker(registry: Self.registry())
        // wf.big's 2 MiB output is over the 1 MiB message limit as the next step's input.
        let wf = try await f.client.submit(.chain([Self.step("wf.big", 1), Self.step("wf.note")]))
        let info = try await f.client.waitForWorkflow(wf.id, timeout: .seconds(20))
        try await worker.stop()
        #expect(info.state == "failed" && info.error?.type == "CannotStartNextStep" && info.failedStep == WorkflowPath([0]), "\(info)")
    }

    @Test func collectedFailuresAreValuesTheChordGets() async throws {
        let f = KaleFixture()
        let worker = f.startWorker(registry: Self.registry())
        let wf = try await f.client.submit(.chord(group: [Self.step("wf.inc", 1), Self.step("wf.boom", 2), Self.step("wf.boom", 3)],
                                                  then: Self.step("wf.count-errors")), collectFailures: true)
        let info = try await f.client.waitForWorkflow(wf.id, timeout: .seconds(20))
        try await worker.stop()
        #expect(info.state == "succeeded" && info.result == .number(2), "\(info)")
    }

    @Test func aFailedStepFailsTheWorkflowAndNothingAfterItStarts() async throws {
        let f = KaleFixture()
        let worker = f.startWorker(registry: Self.registry())
        let wf = try await f.client.submit(.chain([Self.step("wf.inc", 1), Self.step("wf.boom"), Self.step("wf.inc")]),
                                           onError: WorkflowStep(task: "wf.note"))
        let info = try await f.client.waitForWorkflow(wf.id, timeout: .seconds(20))
        try await Task.sleep(for: .milliseconds(300))
        try await worker.stop()
        #expect(info.state == "failed" && info.failedStep == WorkflowPath([1]), "\(info)")
        #expect(info.error?.type == "Boom")
        let third = try await f.client.status(of: KaleClient.workflowStepID(wf.id, WorkflowPath([2])), queue: "default")
        #expect(third?.state == .cancelled && third?.startedAt == nil, "the third step never starts: \(String(describing: third))")
        let callback = try #require(try await f.client.status(of: "\(wf.id):on_error", queue: "default"))
        #expect(callback.state == .succeeded && callback.attempt == 1, "the error callback ran once")
        #expect(callback.result?["step"] == .string("1") && callback.result?["error"]?["type"] == .string("Boom"), "\(callback)")
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async -> T) async -> [T] {
        var out: [T] = []
        for e in self { out.append(await transform(e)) }
        return out
    }
}
