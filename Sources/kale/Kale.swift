import Kale
import KaleCLI

/// The stand-alone `kale` executable: every command, with the built-in diagnostic tasks.
@main
struct KaleMain {
    static func main() async {
        await KaleCLI.main(registry: TaskRegistry(), diagnosticsByDefault: true)
    }
}
