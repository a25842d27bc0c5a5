import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `kale dashboard` in the core `kale`: replaces itself with the `kale-full` binary beside
/// it, git-style (docs/decisions/0019-dashboard-binary.md).
///
/// The dashboard needs Hummingbird and NIO, which neither the core `kale` nor its tests link.
/// An executable that embeds `KaleDashboard.DashboardCommand` (as `kale-full` does)
/// replaces this command and serves in-process.
struct DashboardLauncher: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve the web dashboard (runs the kale-full binary).",
        discussion: """
        Examples:
          kale dashboard   # http://127.0.0.1:8080/, read-only without a token
          KALE_DASHBOARD_TOKEN=… kale dashboard --bind 0.0.0.0 --port 8080

        The dashboard lives in its own binary, kale-full, next to kale; this command runs it with the same arguments. 'kale-full dashboard --help' lists its options (--port, --bind, --read-only, --token-file, --redis, --prefix). See docs/dashboard.md.
        """
    )

    @Argument(parsing: .captureForPassthrough, help: "The dashboard's options.")
    var arguments: [String] = []

    /// The binary run in this one's place.
    static let binaryName = "kale-full"

    func run() throws {
        let path = Self.siblingPath()
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw CLIFailure.usage("the dashboard is a separate binary, and there is none at \(path)",
                                   hint: "swift build --product kale-full (or install it next to kale)")
        }
        let argv = [path, "dashboard"] + arguments
        var cArgs = argv.map { strdup($0) }
        cArgs.append(nil)
        execv(path, cArgs)
        // execv returns only on failure.
        let reason = String(cString: strerror(errno))
        throw CLIFailure.usage("cannot run \(path): \(reason)", hint: "swift build --product kale-full")
    }

    /// `<directory of this executable>/kale-full`. /proc/self/exe names the binary even
    /// when `kale` was found through PATH or a symlink; elsewhere argv[0] stands in.
    static func siblingPath() -> String {
        let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: own).deletingLastPathComponent().appendingPathComponent(binaryName).path
    }
}
