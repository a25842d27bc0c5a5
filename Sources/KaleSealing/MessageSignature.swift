import Crypto
import Foundation
import Kale

/// The signature of a message: its last member, `"sig":"<key id>.<base64 HMAC-SHA256>"`,
/// over every byte of the message without it.
///
/// Appended to the bytes the inner format wrote rather than added as a field before
/// encoding: the signed bytes are then exactly what the verifier reads back (no canonical
/// JSON to agree on), and the message stays a JSON object that the Lua scripts, the CLI and
/// a reader without keys parse as before (unknown members are ignored).
enum MessageSignature {
    private static let marker = Array(#","sig":""#.utf8)
    private static let tail = Array(#""}"#.utf8)

    static func sign(_ message: [UInt8], with key: SigningKeys.Key) throws -> [UInt8] {
        // `{}` would become `{,"sig":…}`; no format writes an empty message.
        guard message.count > 2, message.last == UInt8(ascii: "}") else {
            throw MessageRefused(type: "BadSignature", reason: "only a non-empty JSON object can be signed")
        }
        var hmac = key.keyedMAC
        hmac.update(data: message)
        let mac = hmac.finalize()
        var out = message
        out.removeLast()
        out.reserveCapacity(message.count + 64)
        out += marker
        out += Array(key.id.utf8)
        out.append(UInt8(ascii: "."))
        out += Array(Data(mac).base64EncodedString().utf8)
        out += tail
        return out
    }

    /// The message as it was signed, the key id and the code; nil when it carries no signature.
    static func split(_ bytes: [UInt8]) -> (message: [UInt8], keyID: String, code: String)? {
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

    static func verify(_ message: [UInt8], code: String, with key: SigningKeys.Key) -> Bool {
        guard let expected = Data(base64Encoded: code) else { return false }
        var hmac = key.keyedMAC
        hmac.update(data: message)
        // The digest's == compares in constant time (swift-crypto's safeCompare).
        return hmac.finalize() == expected
    }
}
