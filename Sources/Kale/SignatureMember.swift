/// The signature member that a signing format appends to a JSON object it writes:
/// `,"sig":"<key id>.<base64 code>"` before the closing brace (KaleSealing's
/// `MessageSignature` makes and checks the code).
///
/// Here, in the core, because a reader without keys must still find it: a stored document
/// (a workflow's tree) is parsed strictly, and a signature is no member of the tree.
public enum SignatureMember {
    static let marker = Array(#","sig":""#.utf8)
    static let tail = Array(#""}"#.utf8)

    /// The object as it was signed, the key id and the code; nil when it carries no signature.
    public static func split(_ bytes: [UInt8]) -> (message: [UInt8], keyID: String, code: String)? {
        guard bytes.count > marker.count + tail.count, bytes.suffix(2).elementsEqual(tail) else { return nil }
        let end = bytes.count - tail.count
        // The value has no quote or backslash: search back from the end for the marker.
        var i = end - 1
        while i >= marker.count - 1, bytes[i] != UInt8(ascii: "\"") && bytes[i] != UInt8(ascii: "\\") { i -= 1 }
        let start = i - (marker.count - 1)
        guard start > 0, bytes[start..<(i + 1)].elementsEqual(marker) else { return nil }
        let value = String(decoding: bytes[(i + 1)..<end], as: UTF8.self)
        guard let dot = value.firstIndex(of: ".") else { return nil }
        return (Array(bytes[..<start]) + [UInt8(ascii: "}")], String(value[..<dot]), String(value[value.index(after: dot)...]))
    }

    /// `bytes` without its signature member (unchanged when it has none).
    public static func stripped(_ bytes: [UInt8]) -> [UInt8] { split(bytes)?.message ?? bytes }

    /// `signed` (with the member of `keyID` and `code`) from `message`, a non-empty object.
    public static func appended(to message: [UInt8], keyID: String, code: String) -> [UInt8] {
        var out = message
        out.removeLast()
        out.reserveCapacity(message.count + marker.count + keyID.utf8.count + code.utf8.count + 3)
        out += marker
        out += Array(keyID.utf8)
        out.append(UInt8(ascii: "."))
        out += Array(code.utf8)
        out += tail
        return out
    }
}
