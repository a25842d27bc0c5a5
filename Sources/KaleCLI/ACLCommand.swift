import ArgumentParser
import Crypto
import Foundation
import Kale

/// `kale acl`: prints the Redis ACL rules of a role for this build.
struct ACLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acl",
        abstract: "Print the Redis ACL rules of a Kale role (producer, worker, dashboard) for this build.",
        discussion: """
        Examples:
          kale acl producer
          KALE_ACL_PASSWORD=… kale acl worker --user reports-worker --prefix reports
          kale acl all > /etc/redis/kale-acl.conf

        ROLE is producer (enqueue, await results, look tasks up), worker (what 'kale worker' does), dashboard (read everything; write only the mark that a queue's events are watched) or all: an ACL file with the default user off and the three roles as kale-producer, kale-worker and kale-dashboard.

        Prints one 'user NAME reset on …' line per user, in ACL file format (the rules after NAME also work with ACL SETUSER NAME). Scripts are allowed by their SHA1 (+evalsha|<sha1>), which changes with Kale's scripts: print the rules again after every upgrade. The password is never a flag (ps shows flags): KALE_ACL_PASSWORD adds its SHA-256 (#…); without it the user has no password and cannot log in until given one. Nothing is sent to Redis. See docs/acl.md.
        """
    )

    /// The environment variable holding the password of the one user printed.
    static let passwordVariable = "KALE_ACL_PASSWORD"

    @Argument(help: "producer, worker, dashboard or all.")
    var role: String

    @Option(help: ArgumentHelp("The ACL user name (default kale-ROLE); not with all.", valueName: "name"))
    var user: String?

    @Option(help: ArgumentHelp("Key prefix of this Kale installation.", valueName: "prefix"))
    var prefix = "kale"

    @Option(help: ArgumentHelp("The database of the clients' URL (/N), which they SELECT.", valueName: "n"))
    var db = 0

    func run() throws {
        // Checked here rather than in validate(), so each refusal keeps its own hint.
        let roles: [AccessRole]
        if role == "all" {
            roles = AccessRole.all
        } else if let one = AccessRole.named(role) {
            roles = [one]
        } else {
            throw CLIFailure.usage("unknown role '\(role)'", hint: "ROLE is producer, worker, dashboard or all; see 'kale acl --help'")
        }
        guard Self.isACLWord(prefix), !prefix.contains("{"), !prefix.contains("}") else {
            throw CLIFailure.usage("--prefix must be non-empty, without spaces, '{' or '}'", hint: "example: kale acl \(role) --prefix kale")
        }
        guard db >= 0 else { throw CLIFailure.usage("--db must be 0 or more, not \(db)", hint: "the N of redis://host:6379/N") }
        if let user {
            guard roles.count == 1 else {
                throw CLIFailure.usage("--user names one user; 'all' prints three", hint: "print each role with its own --user, e.g. kale acl worker --user \(user)")
            }
            guard Self.isACLWord(user) else {
                throw CLIFailure.usage("--user '\(user)' is not an ACL user name (no spaces or control characters)", hint: "example: --user reports-worker")
            }
        }
        let password = ProcessInfo.processInfo.environment[Self.passwordVariable]
        if let password {
            guard !password.isEmpty else {
                throw CLIFailure.usage("\(Self.passwordVariable) is empty", hint: "unset it to print the rules without a password")
            }
            guard roles.count == 1 else {
                throw CLIFailure.usage("\(Self.passwordVariable) is one user's password; 'all' prints three users",
                                       hint: "give each role its own: \(Self.passwordVariable)=… kale acl producer, then worker and dashboard")
            }
        }
        let hash = password.map { SHA256.hash(data: Data($0.utf8)).map { String(format: "%02x", $0) }.joined() }
        if roles.count > 1 {
            // Without this line Redis creates the default user with no password and every
            // permission, which would make the roles pointless.
            Output.line("user default reset off")
        }
        for r in roles {
            Output.line(r.aclLine(user: user ?? r.defaultUser, passwordSHA256: hash, prefix: prefix, database: db))
        }
        if hash == nil, roles.count == 1 {
            Output.note("note: no password in these rules; set \(Self.passwordVariable) to add its SHA-256, or give one later "
                        + "(ACL SETUSER \(user ?? roles[0].defaultUser) >password)\n")
        } else if hash == nil {
            Output.note("note: no passwords in these rules; print each role with \(Self.passwordVariable) set to add its SHA-256, "
                        + "or give them later (ACL SETUSER kale-worker >password)\n")
        }
    }

    /// A word Redis reads as one ACL argument: printable, no spaces.
    static func isACLWord(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F && !(0x80...0x9F).contains($0.value) }
    }
}
