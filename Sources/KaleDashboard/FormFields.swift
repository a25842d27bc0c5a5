import Foundation

/// Name-value pairs of a query string or an `application/x-www-form-urlencoded` body, in
/// order; a name may repeat (a form's checkboxes).
struct FormFields: Sendable {
    var pairs: [(name: String, value: String)] = []

    /// Parses `a=1&b=x+y&b=%2F`: `+` is a space, then percent-decoding; a malformed escape keeps its text.
    init(encoded text: String) {
        for part in text.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let spaced = s.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            pairs.append((decode(kv[0]), kv.count > 1 ? decode(kv[1]) : ""))
        }
    }

    init() {}

    /// The first value of `name`, nil when absent; an empty value counts as absent.
    subscript(_ name: String) -> String? {
        pairs.first { $0.name == name }.flatMap { $0.value.isEmpty ? nil : $0.value }
    }

    /// Every value of `name`.
    func all(_ name: String) -> [String] { pairs.filter { $0.name == name }.map(\.value) }

    /// `text` percent-encoded for a query value or a path segment (only unreserved characters stay).
    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
