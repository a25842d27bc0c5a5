import Crypto
import Foundation
import Kale

/// AES-256-GCM for arguments and results, stored as ``EncryptedValue``.
///
/// The associated data binds a ciphertext to its task (`kale/args/1`, id and name, or
/// `kale/result/1` and id): arguments copied into another task's message, or a result into
/// another record, fail to decrypt instead of being read as that task's.
enum ValueCipher {
    static func seal(_ plaintext: [UInt8], with key: SigningKeys.Key, context: String) throws -> JSONValue {
        let box = try AES.GCM.seal(plaintext, using: key.encryption, authenticating: Array(context.utf8))
        guard let combined = box.combined else {
            throw MessageRefused(type: "EncryptionFailed", reason: "AES-GCM gave no combined form")
        }
        return EncryptedValue.value("\(key.id).\(combined.base64EncodedString())")
    }

    /// The plaintext of `text` (`<key id>.<base64>`).
    ///
    /// - Throws: ``MessageRefused`` `DecryptionFailed` for an unknown key or a ciphertext that
    ///   does not authenticate.
    static func open(_ text: String, keys: SigningKeys, context: String) throws -> [UInt8] {
        guard let dot = text.firstIndex(of: ".") else {
            throw MessageRefused(type: "DecryptionFailed", reason: "the encrypted value has no key id")
        }
        let id = text[..<dot]
        guard let key = keys.key(id) else {
            throw MessageRefused(type: "DecryptionFailed", reason: "encrypted with key '\(id)', which is not configured (retired, or another deployment's)")
        }
        do {
            guard let data = Data(base64Encoded: String(text[text.index(after: dot)...])) else {
                throw MessageRefused(type: "DecryptionFailed", reason: "the encrypted value is not base64")
            }
            let box = try AES.GCM.SealedBox(combined: data)
            return Array(try AES.GCM.open(box, using: key.encryption, authenticating: Array(context.utf8)))
        } catch let refused as MessageRefused {
            throw refused
        } catch {
            throw MessageRefused(type: "DecryptionFailed", reason: "the encrypted value does not authenticate with key '\(id)' for this task")
        }
    }

    static func argumentsContext(_ id: String, _ name: String) -> String { "kale/args/1\n\(id)\n\(name)" }
    static func resultContext(_ id: String) -> String { "kale/result/1\n\(id)" }
}
