import Kale
import KaleCLI
import KaleExamples

/// `ExampleWorker`: the `kale` command line with the example tasks registered.
///
/// `ExampleWorker worker --concurrency 2` serves them. Registration happens before
/// `KaleCLI.main` on every start, because the worker's pool children are this same
/// executable started again (with `KALE_CHILD=1`) and must know the same tasks.
@main
enum WorkerMain {
    static func main() async {
        let registry = TaskRegistry()
        ExampleTasks.register(in: registry)
        await KaleCLI.main(registry: registry)
    }
}
