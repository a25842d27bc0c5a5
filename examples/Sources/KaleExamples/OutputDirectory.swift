import Foundation
import Kale

/// Where the example tasks write, and how they write without leaving half-written files.
///
/// The directory comes from the task's input (`output_dir`), else `KALE_EXAMPLES_OUT`,
/// else `examples/out` under the worker's working directory. Each task kind writes into a
/// subdirectory of it (`thumbnails/`, `reports/`, `previews/`).
public enum OutputDirectory {
    /// The environment variable naming the default output directory.
    public static let environmentKey = "KALE_EXAMPLES_OUT"

    /// The output directory for `override` (an input's `output_dir`), as an absolute path.
    public static func resolve(_ override: String?, environment: [String: String]? = nil) -> String {
        let environment = environment ?? ProcessInfo.processInfo.environment
        let path = override ?? environment[environmentKey] ?? "examples/out"
        return URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// Creates `<base>/<subdirectory>` if needed and returns it.
    ///
    /// - Throws: a retryable ``TaskFailure``: a missing mount or a permission an operator
    ///   fixes is worth another attempt.
    static func prepare(_ override: String?, subdirectory: String) throws -> String {
        let dir = resolve(override) + "/" + subdirectory
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        catch { throw TaskFailure(kind: .error, type: "OutputError", message: "cannot create output directory \(dir): \(error.localizedDescription)") }
        return dir
    }

    /// Writes a file by letting `write` fill a temporary path beside `final`, then renaming
    /// it into place, so a reader (or a retry after a crash) never sees a partial file.
    ///
    /// The temporary name ends like `final`, because libvips picks the format by suffix.
    /// - Returns: whatever `write` returned, and the file's size in bytes.
    static func writeAtomically<T>(_ final: String, _ write: (String) throws -> T) throws -> (T, bytes: Int) {
        let url = URL(fileURLWithPath: final)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".partial-\(getpid())-\(url.lastPathComponent)").path
        defer { unlink(temporary) }
        let value = try write(temporary)
        guard rename(temporary, final) == 0 else {
            throw TaskFailure(kind: .error, type: "OutputError", message: "cannot move output into place at \(final): \(String(cString: strerror(errno)))")
        }
        return (value, fileSize(final))
    }

    /// The size of a file in bytes (0 when it cannot be read).
    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// A file name stem safe on every file system: letters, digits, `-` and `_`, at most 60.
    static func safeStem(_ text: String, fallback: String = "output") -> String {
        let mapped = text.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" }
        let collapsed = String(mapped).split(separator: "-").joined(separator: "-")
        return collapsed.isEmpty ? fallback : String(collapsed.prefix(60))
    }

    /// The first 8 characters of a task id: enough to keep two tasks' files apart while a
    /// retry of the same task overwrites its own.
    static func shortID(_ id: String) -> String {
        String(id.filter { $0.isLetter || $0.isNumber }.prefix(8))
    }
}
