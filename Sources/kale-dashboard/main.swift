import Kale
import KaleCLI
import KaleDashboard

// `kale-dashboard`: the `kale` command with the dashboard in-process (the core `kale`
// dashboard command runs this binary, docs/decisions/0019). Given only flags it serves the
// dashboard, so `kale-dashboard --port 9000` works as well as `kale-dashboard dashboard …`.
let arguments = Array(CommandLine.arguments.dropFirst())
let onlyFlags = arguments.first.map { $0.hasPrefix("-") && !["-h", "--help", "--version"].contains($0) } ?? true
await KaleCLI.main(registry: TaskRegistry(), diagnosticsByDefault: true, commands: [DashboardCommand.self],
                   arguments: onlyFlags ? ["dashboard"] + arguments : arguments)
