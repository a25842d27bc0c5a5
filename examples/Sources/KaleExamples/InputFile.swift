import Foundation
import Kale

/// Checks on input paths, so a missing or unreadable file fails the task with a clear
/// reason before a C library reports something vaguer.
enum InputFile {
    /// The absolute path of `path` after checking it names a readable regular file.
    ///
    /// - Throws: ``TaskFailure/rejected(_:type:)``: the file will not appear by retrying.
    static func check(_ path: String) throws -> String {
        guard !path.isEmpty else { throw TaskFailure.rejected("input path is empty", type: "InvalidInput") }
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) else {
            throw TaskFailure.rejected("input file not found: \(absolute)", type: "InputNotFound")
        }
        guard !isDirectory.boolValue else { throw TaskFailure.rejected("input is a directory, not a file: \(absolute)", type: "InvalidInput") }
        guard FileManager.default.isReadableFile(atPath: absolute) else {
            throw TaskFailure.rejected("input file is not readable: \(absolute)", type: "InvalidInput")
        }
        return absolute
    }
}
