public import Kale
import KaleCelery

/// A message format that signs every message it writes and reads only messages whose
/// signature verifies, and encrypts the arguments and result of tasks that ask for it.
///
/// Wraps the format that reads the task's fields (kale/1, or the worker's Celery bridge):
/// the bytes are checked first, and only what verified is parsed. A worker with this format
/// refuses, to the dead set with `BadSignature`:
/// - an unsigned message (written by hand, by an older producer, by anyone who can write to
///   Redis but holds no key);
/// - a signature that does not match (the message was altered);
/// - a message signed with a key it does not hold (retired, or another deployment's);
/// - a signed message found in another task's record (checked by the worker).
///
/// Celery's clients cannot sign this way. Their messages are refused too, unless
/// `acceptUnsignedCelery` trusts whoever can write the Celery queues (docs/security.md).
public struct SealedFormat: MessageFormat {
    public let keys: SigningKeys
    private let inner: any MessageFormat
    private let acceptUnsignedCelery: Bool

    public init(keys: SigningKeys, inner: any MessageFormat = KaleJSONFormat(), acceptUnsignedCelery: Bool = false) {
        self.keys = keys
        self.inner = inner
        self.acceptUnsignedCelery = acceptUnsignedCelery
    }

    public var name: String { "\(inner.name)+hmac-sha256" }
    public var verifiesSignatures: Bool { true }
    public var encrypts: Bool { true }

    public func encode(_ envelope: Envelope) throws -> [UInt8] {
        var e = envelope
        let key = keys.keys[0]
        if e.encrypted {
            e.args = try ValueCipher.seal(try e.args.bytes(), with: key, context: ValueCipher.argumentsContext(e.id, e.name))
        }
        return try MessageSignature.sign(try inner.encode(e), with: key)
    }

    public func decode(_ bytes: [UInt8]) throws -> Envelope {
        if acceptUnsignedCelery, SignatureMember.split(bytes) == nil, CeleryBridgeFormat.looksLikeCelery(bytes) {
            return try inner.decode(bytes)
        }
        let message = try verified(bytes, what: "message", context: "")
        var envelope = try inner.decode(message)
        if let text = EncryptedValue.sealedText(envelope.args) {
            let plain = try ValueCipher.open(text, keys: keys, context: ValueCipher.argumentsContext(envelope.id, envelope.name))
            do { envelope.args = try JSONValue(parsing: plain) }
            catch { throw MessageRefused(type: "DecryptionFailed", reason: "the decrypted arguments are not JSON") }
            envelope.encrypted = true
        }
        return envelope
    }

    public func seal(result: [UInt8], of envelope: Envelope) throws -> [UInt8] {
        guard envelope.encrypted else { return result }
        return try ValueCipher.seal(result, with: keys.keys[0], context: ValueCipher.resultContext(envelope.id)).bytes()
    }

    public func open(result: JSONValue, of id: String) throws -> JSONValue {
        guard let text = EncryptedValue.sealedText(result) else { return result }
        return try JSONValue(parsing: ValueCipher.open(text, keys: keys, context: ValueCipher.resultContext(id)))
    }

    public func sign(document: [UInt8], context: String) throws -> [UInt8] {
        try MessageSignature.sign(document, with: keys.keys[0], context: context)
    }

    public func verify(document: [UInt8], context: String) throws -> [UInt8] {
        try verified(document, what: "document", context: context)
    }

    public func signature(of value: [UInt8], context: String) throws -> String? {
        MessageSignature.detached(value, with: keys.keys[0], context: context)
    }

    public func verify(value: [UInt8], signature: String?, context: String) throws {
        guard let signature, let dot = signature.firstIndex(of: ".") else {
            throw MessageRefused(type: "BadSignature", reason: "the \(context) is not signed, and this worker passes on only signed ones")
        }
        try check(value, keyID: String(signature[..<dot]), code: String(signature[signature.index(after: dot)...]),
                  what: "value", context: context)
    }

    /// The bytes of `bytes` as signed, if the signature verifies for `context`.
    private func verified(_ bytes: [UInt8], what: String, context: String) throws -> [UInt8] {
        guard let (message, keyID, code) = SignatureMember.split(bytes) else {
            throw MessageRefused(
                type: "BadSignature",
                reason: "the \(what) is not signed, and this worker runs only signed \(what)s (\(SigningKeys.environmentKey))")
        }
        try check(message, keyID: keyID, code: code, what: what, context: context)
        return message
    }

    private func check(_ message: [UInt8], keyID: String, code: String, what: String, context: String) throws {
        guard let key = keys.key(keyID) else {
            throw MessageRefused(
                type: "BadSignature",
                reason: "the \(what) is signed with key '\(keyID)', which this worker does not hold (retired, or another deployment's; it holds \(keys.ids.joined(separator: ", ")))")
        }
        guard MessageSignature.verify(message, code: code, with: key, context: context) else {
            throw MessageRefused(
                type: "BadSignature",
                reason: "the signature does not match the \(what): it was changed after signing, "
                    + (context.isEmpty ? "" : "signed as something other than \(context), ") + "or signed with another key named '\(keyID)'")
        }
    }

    public func bridging(_ wrap: (any MessageFormat) -> any MessageFormat) -> any MessageFormat {
        SealedFormat(keys: keys, inner: wrap(inner), acceptUnsignedCelery: acceptUnsignedCelery)
    }
}
