public import ExampleContracts
public import Kale

/// `reports.text`: extracts the text of every page of a PDF with poppler.
///
/// Pages are separated by a form feed. The text is cut at 1 MiB: results live in Redis,
/// which is no place for whole books.
public struct TextTask: TaskDefinition {
    /// The name producers enqueue this task by.
    public static let name = TaskNames.text
    /// Longest text returned, in UTF-8 bytes.
    public static let maxBytes = 1 << 20

    /// Creates the task; it keeps no state between runs.
    public init() {}

    /// Runs the task.
    ///
    /// - Throws: ``TaskFailure/rejected(_:type:)`` for a missing or unreadable PDF
    ///   (dead-lettered without retries).
    public func run(_ input: TextInput, context: TaskContext) async throws -> TextOutput {
        let source = try InputFile.check(input.input)
        let document = try PDFDocument(path: source)
        var text = ""
        for index in 0..<document.pageCount {
            try context.checkCancellation()
            if index > 0 { text += "\u{0C}" }
            text += document.text(page: index)
            if text.utf8.count >= Self.maxBytes {
                text = String(decoding: text.utf8.prefix(Self.maxBytes), as: UTF8.self)
                break
            }
        }
        return TextOutput(text: text, pages: document.pageCount)
    }
}
