import ArgumentParser

/// `--json`, for every command whose output is data.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON: one object per line for lists.")
    var json = false
}
