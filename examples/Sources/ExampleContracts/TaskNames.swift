/// The names the example tasks are enqueued by: the contract between producers and workers.
///
/// A producer that only enqueues (like the report service) needs these names and the input
/// types of this module, not the task code or its C libraries.
public enum TaskNames {
    /// Shrinks an image: ``ThumbnailInput`` → ``ImageOutput``.
    public static let thumbnail = "images.thumbnail"
    /// Re-encodes an image: ``ConvertInput`` → ``ImageOutput``.
    public static let convert = "images.convert"
    /// Renders a PDF report: ``ReportInput`` → ``ReportOutput``.
    public static let report = "reports.pdf"
    /// Renders one page of a PDF to PNG: ``PreviewInput`` → ``PreviewOutput``.
    public static let preview = "reports.preview"
    /// Extracts a PDF's text: ``TextInput`` → ``TextOutput``.
    public static let text = "reports.text"
}
