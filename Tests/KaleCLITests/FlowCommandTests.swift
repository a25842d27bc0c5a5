import Foundation
import Kale
import KaleTestSupport
import Testing

/// `kale schedule`, `kale limits` and `kale queue` against a real Redis: what they store,
/// what they print, and how they refuse bad input.
@Suite struct FlowCommandTests {
    @Test func scheduleLifecycleFromTheCommandLine() async throws {
        let cli = CLI(prefix: testNamespace())
        let add = try await cli.run(["schedule", "add", "nightly", "--task", "reports.daily", "--cron", "30 2 * * *",
                                     "--tz", "Europe/Berlin", "--args", #"{"format":"pdf"}"#, "--queue", "reports", "--catch-up", "one"])
        #expect(add.status == 0, "\(add)")
        #expect(add.stdout.contains("schedule nightly: reports.daily cron 30 2 * * * (Europe/Berlin) on reports, next at "))
        #expect(try await cli.run(["schedule", "add", "beat", "--task", "kale.noop", "--every", "30s", "--paused"]).status == 0)

        let list = try await cli.run(["schedule", "list", "--json"])
        let all = try #require(try list.json().first?.arrayValue, "\(list)")
        #expect(all.count == 2)
        let nightly = try #require(all.first { $0["name"]?.stringValue == "nightly" })
        #expect(nightly["queue"]?.stringValue == "reports" && nightly["catch_up"]?.stringValue == "one")
        #expect(nightly["args"] == .object(["format": .string("pdf")]))
        #expect(nightly["timing"] == .object(["cron": .string("30 2 * * *"), "tz": .string("Europe/Berlin")]), "\(nightly)")
        // The next 02:30 in Berlin is 00:30 or 01:30 UTC, depending on the season.
        let next = nightly["next_fire"]?.stringValue ?? ""
        #expect(next.contains("T00:30:00") || next.contains("T01:30:00"), "\(next)")
        let beat = try #require(all.first { $0["name"]?.stringValue == "beat" })
        #expect(beat["paused"] == .bool(true) && beat["next_fire"] == .null)

        #expect(try await cli.run(["schedule", "resume", "beat"]).stdout == "resumed schedule beat\n")
        #expect(try await cli.run(["schedule", "pause", "nightly"]).stdout == "paused schedule nightly\n")
        let table = try await cli.run(["schedule", "list"])
        #expect(table.lines.first?.hasPrefix("NAME") == true && table.lines.count == 3, "\(table)")
        #expect(table.lines.contains { $0.hasPrefix("nightly") && $0.hasSuffix("paused") }, "\(table)")

        let now = try await cli.run(["schedule", "run-now", "nightly", "--json"])
        let ref = try #require(try now.json().first, "\(now)")
        #expect(ref["queue"]?.stringValue == "reports" && ref["schedule"]?.stringValue == "nightly")
        let task = try await cli.run(["inspect", "task", ref["id"]?.stringValue ?? "", "--json"])
        #expect(task.stdout.contains(#""name":"reports.daily""#), "\(task)")

        #expect(try await cli.run(["schedule", "remove", "nightly"]).status == 0)
        let gone = try await cli.run(["schedule", "remove", "nightly"])
        #expect(gone.status == 1 && gone.stderr.contains("no schedule named nightly"), "\(gone)")
    }

    @Test func limitsAndPauseFromTheCommandLine() async throws {
        let cli = CLI(prefix: testNamespace())
        let set = try await cli.run(["limits", "set", "mail.send", "--rate", "10/m", "--burst", "3", "--key", "customer"])
        #expect(set.stdout == "limits of mail.send: 10/m burst 3, per customer\n", "\(set)")
        #expect(try await cli.run(["limits", "set", "pdf.render", "--concurrency", "2"]).status == 0)
        let list = try await cli.run(["limits", "list", "--json"])
        let all = try #require(try list.json().first?.arrayValue, "\(list)")
        #expect(all.count == 2)
        #expect(all[0] == .object(["task": "mail.send", "rate": "10/m", "burst": 3, "concurrency": .null, "key": "customer",
                                   "origin": "runtime"]), "\(all[0])")
        #expect(all[1]["concurrency"] == .number(2) && all[1]["rate"] == .null)
        #expect(try await cli.run(["limits", "clear", "mail.send"]).stdout == "cleared the limits of mail.send\n")
        #expect(try await cli.run(["limits", "clear", "mail.send"]).stdout == "mail.send had no limits\n")

        #expect(try await cli.run(["queue", "pause", "jobs"]).stdout == "paused jobs\n")
        #expect(try await cli.run(["queue", "pause", "jobs"]).stdout == "jobs was already paused\n")
        let inspect = try await cli.run(["inspect", "queues", "--json"])
        let jobs = try inspect.json().first { $0["queue"]?.stringValue == "jobs" }
        #expect(jobs?["paused"] == .bool(true) && jobs?["paused_at"]?.stringValue != nil, "\(inspect)")
        #expect(try await cli.run(["inspect", "queues"]).lines.contains { $0.hasPrefix("jobs") && $0.hasSuffix("paused") })
        #expect(try await cli.run(["queue", "resume", "jobs", "--json"]).stdout == #"{"changed":true,"paused":false,"queue":"jobs"}"# + "\n")
    }

    static let usageErrors: [(arguments: [String], says: String)] = [
        (["limits", "set", "t.x"], "give --rate, --concurrency or both"),
        (["limits", "set", "t.x", "--rate", "5/x"], "bad rate '5/x'"),
        (["limits", "set", "t.x", "--rate", "0/s"], "bad rate '0/s'"),
        (["limits", "set", "t.x", "--concurrency", "0"], "concurrency must be 1-1000000"),
        (["limits", "set", "t.x", "--burst", "3"], "--burst needs --rate"),
        (["schedule", "add", "n", "--task", "t"], "give exactly one of --cron and --every"),
        (["schedule", "add", "n", "--task", "t", "--cron", "61 * * * *"], "cron field 1 (minute) '61'"),
        (["schedule", "add", "n", "--task", "t", "--cron", "* * * *"], "cron"),
        (["schedule", "add", "n", "--task", "t", "--cron", "* * * * *", "--tz", "Mars/Base"], "time zone 'Mars/Base' is unknown"),
        (["schedule", "add", "n", "--task", "t", "--every", "100ms"], "interval '100ms'"),
        (["schedule", "add", "n", "--task", "t", "--every", "1s", "--tz", "UTC"], "--tz goes with --cron"),
        (["schedule", "add", "n", "--task", "t", "--every", "1s", "--catch-up", "all"], "--catch-up is none or one"),
        (["schedule", "add", "bad name", "--task", "t", "--every", "1s"], "schedule name 'bad name'"),
        (["schedule", "add", "n", "--task", "t", "--every", "1s", "--args", "{"], "--args is not valid JSON"),
        (["queue", "pause", "a{b}"], "queue name 'a{b}'"),
    ]

    @Test(arguments: usageErrors)
    func badFlowArgumentsExitTwoAndWriteNothing(_ arguments: [String], says: String) async throws {
        let cli = CLI(prefix: testNamespace())
        let run = try await cli.run(arguments)
        #expect(run.status == 2, "\(run)")
        let lines = run.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 2 && lines[0].hasPrefix("kale: error: ") && lines[1].hasPrefix("hint: "), "\(run)")
        #expect(lines.first?.contains(says) == true, "expected '\(says)' in: \(run.stderr)")
        #expect(run.stdout.isEmpty)
        #expect(try await keys(under: cli.prefix).isEmpty, "a refused command wrote to Redis")
    }
}
