public import Kale

/// All example tasks, for registering in a worker.
public enum ExampleTasks {
    /// Registers `images.thumbnail`, `images.convert`, `reports.pdf`, `reports.preview` and
    /// `reports.text`.
    public static func register(in registry: TaskRegistry) {
        registry.register(ThumbnailTask())
        registry.register(ConvertTask())
        registry.register(ReportTask())
        registry.register(PreviewTask())
        registry.register(TextTask())
    }
}
