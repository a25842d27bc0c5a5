public import ArgumentParser
import Foundation
import Kale
import KaleCLI
import KaleRedis
import Logging

/// `kale dashboard`, in-process: the web dashboard. Pass it to `KaleCLI.main(commands:)` to
/// serve the dashboard from your own executable; `kale-full` does exactly that.
public struct DashboardCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve the web dashboard: queues, tasks, workers, the dead set, a JSON API.",
        discussion: """
        Examples:
          kale dashboard                                   # http://127.0.0.1:8080/
          kale dashboard --port 9000 --read-only
          KALE_DASHBOARD_TOKEN=$(cat /run/secrets/kale) kale dashboard --bind 0.0.0.0

        The token comes from --token-file, else KALE_DASHBOARD_TOKEN; it is never a flag value (ps shows those). Without a token the dashboard only shows. On a bind other than 127.0.0.1, ::1 or localhost a token is required and every page asks for it; so does every request a proxy forwarded (Forwarded, X-Forwarded-*, X-Real-IP headers). Behind a reverse proxy on the same machine, add --require-token. See docs/dashboard.md.
        """
    )

    public init() {}

    @OptionGroup var global: GlobalOptions

    @Option(help: "The TCP port (default 8080).")
    var port: Int = 8080

    @Option(help: ArgumentHelp("The address to listen on (default 127.0.0.1).", valueName: "address"))
    var bind: String = "127.0.0.1"

    @Flag(name: .customLong("read-only"), help: "Refuse every action and show no action buttons.")
    var readOnly = false

    @Flag(name: .customLong("require-token"), help: "Every page needs the token, even on a loopback bind (behind a reverse proxy).")
    var requireToken = false

    @Option(name: .customLong("token-file"), help: ArgumentHelp("Read the token from this file (else KALE_DASHBOARD_TOKEN).", valueName: "path"))
    var tokenFile: String?

    /// The environment variable holding the token.
    public static let tokenVariable = "KALE_DASHBOARD_TOKEN"
    /// Seconds before an idle connection is closed (default 30). For the tests, which cannot
    /// wait 30 s; not a flag, as no deployment should need another value.
    static let idleTimeoutVariable = "KALE_DASHBOARD_IDLE_TIMEOUT"

    public func validate() throws {
        if !(1...65535).contains(port) { throw ValidationError("--port must be 1-65535") }
    }

    public func run() async throws {
        let token = try readToken()
        var settings = DashboardSettings(bind: bind, port: port, readOnly: readOnly, token: token, requireToken: requireToken)
        if requireToken && token == nil {
            throw CLIFailure.usage("--require-token is set, and no token is", hint: "set \(Self.tokenVariable) or --token-file")
        }
        guard settings.isLoopback || token != nil else {
            throw CLIFailure.usage("--bind \(bind) is not a loopback address, and no token is set",
                                   hint: "set \(Self.tokenVariable) or --token-file, or bind 127.0.0.1")
        }
        if let text = ProcessInfo.processInfo.environment[Self.idleTimeoutVariable] {
            guard let seconds = Int(text), (1...3600).contains(seconds) else {
                throw CLIFailure.usage("\(Self.idleTimeoutVariable) must be 1-3600 seconds, not '\(text)'")
            }
            settings.idleTimeout = .seconds(seconds)
        }
        let url = try global.redisURL()
        settings.redisDescription = url.description
        GlobalOptions.quietLogging
        let client = try await global.client()
        // The executable's registry, so an enqueue over the API gets a registered task's
        // defaults exactly as `kale enqueue` in the same executable does.
        let dashboard = Dashboard(client: client, settings: settings, registry: KaleCLI.registry)
        let address = bind.contains(":") ? "[\(bind)]" : bind
        let mode = (settings.readOnly ? "read-only" : token == nil ? "no token: actions disabled" : "actions need the token")
            + (requireToken ? ", every page needs the token" : "")
        // Stderr, one line: the address and the Redis server without its password.
        let line = "kale dashboard: http://\(address):\(port)/ (\(mode); redis \(url.description), prefix \(global.prefix))\n"
        try await dashboard.run { FileHandle.standardError.write(Data(line.utf8)) }
    }

    private func readToken() throws -> String? {
        var text: String?
        if let tokenFile {
            guard let data = FileManager.default.contents(atPath: tokenFile) else {
                throw CLIFailure.usage("cannot read --token-file '\(tokenFile)'", hint: "check the path and its permissions")
            }
            text = String(decoding: data, as: UTF8.self)
        } else {
            text = ProcessInfo.processInfo.environment[Self.tokenVariable]
        }
        // A trailing newline from `echo > file` is not part of the token.
        guard let token = text?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else { return nil }
        guard token.count >= 16 else {
            throw CLIFailure.usage("the dashboard token is shorter than 16 characters", hint: "e.g. openssl rand -hex 32")
        }
        return token
    }
}
