import ArgumentParser

/// The key prefixes of a Celery app (`global_keyprefix`), which `kale worker` and
/// `kale enqueue --celery` must both match.
struct CeleryPrefixOptions: ParsableArguments {
    @Option(name: .customLong("celery-broker-prefix"),
            help: ArgumentHelp("Celery's broker_transport_options global_keyprefix.", valueName: "prefix"))
    var broker: String = ""

    @Option(name: .customLong("celery-result-prefix"),
            help: ArgumentHelp("Celery's result_backend_transport_options global_keyprefix.", valueName: "prefix"))
    var result: String = ""

    var isSet: Bool { !broker.isEmpty || !result.isEmpty }
}
