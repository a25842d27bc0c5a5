public import Foundation
public import Hummingbird

/// The request context of the report service: Hummingbird's basic one, with JSON answers
/// that keep `/` unescaped and keys sorted, so they read well in a terminal.
public struct APIRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage

    /// Creates the context for one request.
    public init(source: Source) {
        coreContext = .init(source: source)
    }

    /// Request bodies above 1 MiB are refused (413): a report request is rows of data, not files.
    public var maxUploadSize: Int { 1 << 20 }

    /// JSON with sorted keys and unescaped slashes.
    public var responseEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
