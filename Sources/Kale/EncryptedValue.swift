/// How an encrypted value is stored in place of the value: `{"$kale_encrypted": "<key id>.<base64>"}`.
///
/// Defined here, without any cryptography, so every reader (the CLI, the dashboard, a client
/// without keys) can tell an encrypted argument or result and show "encrypted" instead of
/// ciphertext; only a format that holds the key (KaleSealing) can open it.
public enum EncryptedValue {
    public static let marker = "$kale_encrypted"

    /// The `<key id>.<base64>` text of an encrypted value, or nil for a plain one.
    public static func sealedText(_ value: JSONValue) -> String? {
        guard case .object(let o) = value, o.count == 1, case .string(let text)? = o[marker] else { return nil }
        return text
    }

    /// The stored form of `text`.
    public static func value(_ text: String) -> JSONValue { .object([marker: .string(text)]) }

    /// What a reader without the key shows: `encrypted (key <id>)`.
    public static func placeholder(_ value: JSONValue) -> String? {
        sealedText(value).map { text in "encrypted (key \(text.prefix { $0 != "." }))" }
    }
}
