import Kale

/// The formats the image tasks write.
enum ImageFormat: String, CaseIterable {
    case jpeg, png, webp

    /// Parses `jpeg`/`jpg`, `png` and `webp`, in any case.
    ///
    /// - Throws: ``TaskFailure/rejected(_:type:)`` for anything else.
    init(parsing text: String) throws {
        let t = text.lowercased().trimmingPrefix(".")
        switch t {
        case "jpeg", "jpg": self = .jpeg
        case "png": self = .png
        case "webp": self = .webp
        default:
            throw TaskFailure.rejected("unknown image format '\(text)'; use jpeg, png or webp", type: "UnknownFormat")
        }
    }

    /// The format matching a file's suffix, if it is one of ours.
    init?(path: String) {
        guard let dot = path.lastIndex(of: "."), let f = try? ImageFormat(parsing: String(path[path.index(after: dot)...])) else { return nil }
        self = f
    }

    /// The file suffix, with its dot; libvips chooses the encoder by it.
    var suffix: String { self == .jpeg ? ".jpg" : ".\(rawValue)" }
}
