import Foundation
import Kale
import KaleRedis
import KaleSealing
import KaleTestSupport
import Testing

/// The CLI with and without `KALE_SIGNING_KEYS`: it signs what it enqueues, encrypts on
/// `--encrypt`, and shows an encrypted task's arguments only to a reader holding the key.
@Suite struct SealedCLITests {
    static let keys = ["KALE_SIGNING_KEYS": "cli1:" + Data(repeating: 0x42, count: 32).base64EncodedString()]

    @Test func anEncryptedTaskShowsItsArgumentsOnlyToAReaderWithTheKey() async throws {
        let cli = CLI(prefix: testNamespace())
        let run = try await cli.run(["enqueue", "reports.salary", "--args", #"{"employee":"Ada","amount":123456}"#, "--encrypt"],
                                    environment: Self.keys)
        #expect(run.status == 0, "\(run)")
        let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let stored = try await cli.client().redis.send("HGET", Keys(prefix: cli.prefix).task("default", id), "msg").string ?? ""
        #expect(!stored.contains("Ada") && !stored.contains("123456") && stored.contains(#""sig":"cli1."#), "\(stored)")

        let blind = try await cli.run(["inspect", "task", id])
        #expect(blind.status == 0, "\(blind)")
        #expect(blind.stdout.contains("encrypted (key cli1)") && !blind.stdout.contains("Ada"), "\(blind)")
        let keyed = try await cli.run(["inspect", "task", id], environment: Self.keys)
        #expect(keyed.stdout.contains(#""employee":"Ada""#), "\(keyed)")
    }

    @Test func whatTheCLIEnqueuesWithKeysIsSigned() async throws {
        let cli = CLI(prefix: testNamespace())
        let run = try await cli.run(["enqueue", "t.x", "--args", "{}"], environment: Self.keys)
        let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let stored = try await cli.client().redis.send("HGET", Keys(prefix: cli.prefix).task("default", id), "msg").string ?? ""
        #expect(stored.hasSuffix("\"}") && stored.contains(#","sig":"cli1."#), "\(stored)")
        // Signed with the key given, not merely shaped like it: it verifies, and not with another key.
        let keys = try SigningKeys(parsing: Self.keys["KALE_SIGNING_KEYS"]!)
        #expect(try SealedFormat(keys: keys).decode(Array(stored.utf8)).id == id)
        let other = try SigningKeys(parsing: "cli1:" + Data(repeating: 0x43, count: 32).base64EncodedString())
        #expect(throws: MessageRefused.self) { try SealedFormat(keys: other).decode(Array(stored.utf8)) }
    }
}
