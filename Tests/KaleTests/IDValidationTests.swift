import Foundation
import Kale
import KaleRedis
import KaleTestSupport
import KaleWorker
import Testing

@Suite(.timeLimit(.minutes(3))) struct IDValidationTests {
    /// Enqueues `id` alone and as a batch of one, and returns the errors both threw.
    private func refusals(of id: String, _ f: KaleFixture) async -> [KaleError] {
        var errors: [KaleError] = []
        do { _ = try await f.client.enqueue(name: "t.id", args: .null, options: .init(id: id)) }
        catch let e as KaleError { errors.append(e) } catch {}
        do { _ = try await f.client.enqueueBatch(name: "t.id", args: [.null], options: .init(id: id)) }
        catch let e as KaleError { errors.append(e) } catch {}
        return errors
    }

    @Test func idsOver200BytesAreRefusedAndTheLongestAllowedRuns() async throws {
        let f = KaleFixture()
        // 100 two-byte characters: 200 bytes; the limit counts bytes, as the fetch script does.
        let longest = String(repeating: "é", count: 100)
        for id in ["", longest + "a", String(repeating: "x", count: 201), String(repeating: "x", count: 5000)] {
            let errors = await refusals(of: id, f)
            #expect(errors.count == 2 && errors.allSatisfy { $0.code == .invalidOptions }, "id of \(id.utf8.count) bytes: \(errors)")
            #expect(errors.allSatisfy { $0.detail.contains(id.isEmpty ? "empty" : "limit is 200 bytes") }, "\(errors)")
        }
        #expect(try await f.redis.send("LLEN", f.keys.pending("default", .normal)).int == 0, "nothing was queued")

        let registry = TaskRegistry()
        DiagnosticTasks.register(in: registry)
        let worker = f.startWorker(registry: registry)
        let ref = try await f.client.enqueue(name: "kale.echo", args: .string("long id"), options: .init(id: longest))
        let info = try await f.client.wait(for: ref.id, timeout: .seconds(10))
        try await worker.stop()
        #expect(ref.id == longest && info.state == .succeeded)
        #expect(try await f.auditQueue("default", ids: [longest]).isEmpty)
    }

    @Test func idsWithWhitespaceControlCharactersOrBracesAreRefused() async throws {
        let f = KaleFixture()
        for id in ["a b", "line\nbreak", "tab\t", "nul\u{0}", "bell\u{7}", "nbsp\u{A0}", "a{b}", "{tag}", "close}"] {
            let errors = await refusals(of: id, f)
            #expect(errors.count == 2 && errors.allSatisfy { $0.code == .invalidOptions }, "\(id.debugDescription): \(errors)")
            #expect(errors.allSatisfy { !$0.description.contains("\n") }, "the error stays on one line")
        }
        #expect(try await f.redis.send("LLEN", f.keys.pending("default", .normal)).int == 0, "nothing was queued")
        // Colons, dots and other printable text are fine.
        let fine = ["invoice:42", "tenant.7/report-2030", "ünïcode-✓"]
        for id in fine { #expect(try await f.client.enqueue(name: "t.id", args: .null, options: .init(id: id)).id == id) }
        #expect(try await f.auditQueue("default", ids: fine).isEmpty)
    }
}
