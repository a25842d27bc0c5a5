/// Input of `images.thumbnail`.
///
/// ```json
/// {"input": "/data/photo.jpg", "width": 256, "height": 256, "crop": true, "format": "webp"}
/// ```
public struct ThumbnailInput: Codable, Sendable, Hashable {
    /// Path of the source image (JPEG, PNG, WebP, TIFF, GIF … whatever libvips reads).
    public var input: String
    /// Largest width in pixels, 1…10000.
    public var width: Int
    /// Largest height in pixels, 1…10000. Default: no limit (fit the width only), or
    /// `width` when cropping.
    public var height: Int?
    /// Fill `width`×`height` exactly, cutting from the centre. Default false (fit inside).
    public var crop: Bool?
    /// `jpeg`, `png` or `webp`. Default: the input's own format when it is one of those,
    /// else `jpeg`.
    public var format: String?
    /// Where to write; default the worker's output directory (`KALE_EXAMPLES_OUT`).
    public var outputDir: String?

    /// Creates a thumbnail request; unset fields take the defaults documented on each property.
    public init(input: String, width: Int, height: Int? = nil, crop: Bool? = nil, format: String? = nil, outputDir: String? = nil) {
        self.input = input
        self.width = width
        self.height = height
        self.crop = crop
        self.format = format
        self.outputDir = outputDir
    }

    enum CodingKeys: String, CodingKey {
        case input, width, height, crop, format
        case outputDir = "output_dir"
    }
}

/// Input of `images.convert`: `{"input": "/data/scan.png", "format": "webp"}`.
public struct ConvertInput: Codable, Sendable, Hashable {
    /// Path of the source image.
    public var input: String
    /// `jpeg`, `png` or `webp`.
    public var format: String
    /// Where to write; default the worker's output directory.
    public var outputDir: String?

    /// Creates a conversion request.
    public init(input: String, format: String, outputDir: String? = nil) {
        self.input = input
        self.format = format
        self.outputDir = outputDir
    }

    enum CodingKeys: String, CodingKey {
        case input, format
        case outputDir = "output_dir"
    }
}

/// Output of both image tasks: the file written and its size.
public struct ImageOutput: Codable, Sendable, Hashable {
    /// Absolute path of the image written.
    public var output: String
    /// Its width and height in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// Its size in bytes.
    public var bytes: Int

    /// Creates the result of an image task.
    public init(output: String, width: Int, height: Int, bytes: Int) {
        self.output = output
        self.width = width
        self.height = height
        self.bytes = bytes
    }
}
