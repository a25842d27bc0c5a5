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
    /// Signs `message`; a non-empty `context` (what a stored document is, and whose) is
    /// MACed before it, so a document signed for one purpose verifies for no other, and no
    /// document verifies as a message (whose context is empty, as before contexts existed).
    static func sign(_ message: [UInt8], with key: SigningKeys.Key, context: String = "") throws -> [UInt8] {
        // `{}` would become `{,"sig":…}`; no format writes an empty message.
        guard message.count > 2, message.last == UInt8(ascii: "}") else {
            throw MessageRefused(type: "BadSignature", reason: "only a non-empty JSON object can be signed")
        }
        let mac = code(message, key: key, context: context)
        return SignatureMember.appended(to: message, keyID: key.id, code: Data(mac).base64EncodedString())
    }

    /// `<key id>.<base64 code>` of `value` for `context`: the member's value, kept apart.
    static func detached(_ value: [UInt8], with key: SigningKeys.Key, context: String) -> String {
        key.id + "." + Data(code(value, key: key, context: context)).base64EncodedString()
    }

    static func verify(_ message: [UInt8], code: String, with key: SigningKeys.Key, context: String = "") -> Bool {
        guard let expected = Data(base64Encoded: code) else { return false }
        // The digest's == compares in constant time (swift-crypto's safeCompare).
        return Self.code(message, key: key, context: context) == expected
    }

    private static func code(_ message: [UInt8], key: SigningKeys.Key, context: String) -> HMAC<SHA256>.MAC {
        var hmac = key.keyedMAC
        if !context.isEmpty {
            // Prefixed and NUL-ended: no context is the start of another, and no message
            // (a JSON object, starting with `{`) is a context followed by a message.
            hmac.update(data: Array("kale-document:\(context)".utf8) + [0])
        }
        hmac.update(data: message)
        return hmac.finalize()
    }
}
