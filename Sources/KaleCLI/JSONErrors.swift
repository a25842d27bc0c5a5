import Foundation

/// Short descriptions of JSON syntax errors.
enum JSONErrors {
    /// Where `data` stops being JSON, e.g. `Invalid value around character 8.`
    ///
    /// JSONDecoder only says "not valid JSON"; JSONSerialization names the position.
    static func describe(_ data: Data, fallback: any Error) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch let e as NSError {
            if let detail = e.userInfo[NSDebugDescriptionErrorKey] as? String { return detail }
        }
        return "\(fallback)"
    }
}
