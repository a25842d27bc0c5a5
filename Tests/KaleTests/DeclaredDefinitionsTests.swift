import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import KaleWorker
import Testing

/// Schedules and limits declared in code: a worker publishes them at start, fires the typed
/// schedule, applies the limits, and leaves what an operator set at run time alone.
@Suite(.timeLimit(.minutes(2))) struct DeclaredDefinitionsTests {
    struct Greeting: Codable, Sendable, Equatable { var who: String }

    struct Greet: TaskDefinition {
        static let name = "test.greet"
        static var defaultOptions: EnqueueOptions { EnqueueOptions(queue: "greetings", maxRetries: 7) }
        static var limits: TaskLimits? { TaskLimits(concurrency: 3) }
        func run(_ input: Greeting, context: TaskContext) async throws -> String { "hello \(input.who)" }
    }

    @Test func aWorkerPublishesAndFiresWhatItsRegistryDeclares() async throws {
        let f = KaleFixture()
        let registry = TaskRegistry()
        registry.register(Greet())
        registry.schedule("greet.every", Greet.self, input: Greeting(who: "world"), timing: try ScheduleTiming(every: "1s"))
        // An operator's runtime limits for another declared task win over its code.
        try await f.client.setLimits(TaskLimits(concurrency: 9), for: "test.other")
        let worker = f.startWorker(registry: registry, queues: ["greetings"])

        #expect(await waitUntil(timeout: .seconds(10)) {
            (try? await f.client.schedules().first?.fired) ?? 0 >= 2
        }, "the declared schedule fires")
        try await worker.stop()

        let status = try #require(try await f.client.schedules().first)
        #expect(status.definition.origin == .code && status.definition.queue == "greetings", "the task's default queue")
        let id = try #require(status.lastTaskID)
        let info = try #require(try await f.client.status(of: id, queue: "greetings"))
        #expect(info.state == .succeeded && info.result == .string("hello world"), "typed input, run by the worker: \(info)")
        #expect(info.maxRetries == 7, "the registered defaults apply to a tick's task")
        let limits = try await f.client.limits()
        #expect(limits["test.greet"] == TaskLimits(concurrency: 3, origin: .code))
        #expect(limits["test.other"]?.concurrency == 9)
        let copied = try await f.redis.send("HGET", f.keys.control("greetings"), "limit:test.greet").string
        #expect(copied == TaskLimits(concurrency: 3).spec, "the worker copied the limits into its queue")
    }

    @Test func codeReplacesItsOwnOlderVersionButNotAnOperatorsEdit() async throws {
        let f = KaleFixture()
        let old = ScheduleDefinition(name: "greet.every", task: Greet.name, timing: try ScheduleTiming(every: "1h"),
                                     queue: "greetings", paused: true, origin: .code)
        try await f.client.addSchedule(old)
        let edited = ScheduleDefinition(name: "greet.edited", task: Greet.name, timing: try ScheduleTiming(every: "2h"),
                                        queue: "greetings", origin: .runtime)
        try await f.client.addSchedule(edited)
        let registry = TaskRegistry()
        registry.register(Greet())
        registry.schedule("greet.every", Greet.self, input: Greeting(who: "a"), timing: try ScheduleTiming(every: "30m"))
        registry.schedule("greet.edited", Greet.self, input: Greeting(who: "b"), timing: try ScheduleTiming(every: "5m"))
        let worker = f.startWorker(registry: registry, queues: ["greetings"])
        #expect(await waitUntil(timeout: .seconds(10)) {
            (try? await f.client.schedule(named: "greet.every"))?.timing == (try? ScheduleTiming(every: "30m"))
        })
        try await worker.stop()
        let every = try #require(try await f.client.schedule(named: "greet.every"))
        #expect(every.paused, "an update from code keeps the operator's pause")
        #expect(try await f.client.schedule(named: "greet.edited") == edited, "a runtime edit is left alone")
    }
}
