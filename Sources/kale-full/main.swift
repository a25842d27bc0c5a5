import Foundation
import Kale
import KaleCLI
import KaleDashboard
import KaleOTel

// `kale-full`: the whole `kale` command plus what is too heavy for the core binary: the web
// dashboard in-process (the core `kale dashboard` runs this binary, decision 0019) and the
// OTLP trace exporter, switched on by the standard OTEL_* variables (decision 0021). Given only
// flags it serves the dashboard, so `kale-full --port 9000` works as well as
// `kale-full dashboard …`.
let arguments = Array(CommandLine.arguments.dropFirst())
let onlyFlags = arguments.first.map { $0.hasPrefix("-") && !["-h", "--help", "--version"].contains($0) } ?? true
let command = onlyFlags ? "dashboard" : arguments[0]
do {
    // A worker's children run this same command line, so they export their spans too.
    try KaleOTel.bootstrapFromEnvironment(serviceName: command == "worker" ? "kale-worker" : "kale-\(command)")
} catch {
    FileHandle.standardError.write(Data("kale: error: the OTEL_* settings are invalid: \(error)\nhint: see docs/observability.md#tracing\n".utf8))
    exit(2)
}
await KaleCLI.main(registry: TaskRegistry(), diagnosticsByDefault: true, commands: [DashboardCommand.self],
                   arguments: onlyFlags ? ["dashboard"] + arguments : arguments)
