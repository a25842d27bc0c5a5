import Crypto
import Foundation

/// The keys a deployment signs and encrypts with: `id:base64key[,id:base64key…]`, the first
/// signs (and encrypts) and every one verifies (and decrypts), so a key is rotated by
/// putting the new one first, and retired by removing it once no message signed with it can
/// still be waiting.
///
/// Each configured key is only input to HKDF-SHA256: signing and encryption use different
/// keys derived from it (`kale/sign/1`, `kale/encrypt/1`), so one secret per generation is
/// enough and neither use can weaken the other.
public struct SigningKeys: Sendable {
    /// The environment variable that holds the keys (never a flag: `ps` shows flags).
    public static let environmentKey = "KALE_SIGNING_KEYS"
    /// Shortest key accepted, in bytes: 128 bits. 32 are recommended (`openssl rand -base64 32`).
    public static let minimumKeyBytes = 16

    struct Key: Sendable {
        let id: String
        let signing: SymmetricKey
        let encryption: SymmetricKey
        /// HMAC with the key already absorbed: each message copies it instead of hashing the
        /// padded key twice again (a third of the cost of signing a 300-byte message).
        let keyedMAC: HMAC<SHA256>
    }

    let keys: [Key]

    /// The id that signs and encrypts new messages.
    public var current: String { keys[0].id }
    /// Every id that verifies, the current one first.
    public var ids: [String] { keys.map(\.id) }

    /// Parses `id:base64key[,id:base64key…]`.
    ///
    /// - Throws: ``SigningKeysError`` naming the entry that is wrong (never its key material).
    public init(parsing text: String) throws {
        var keys: [Key] = []
        for (n, entry) in text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            // A key read from a file keeps its newline: not part of the key.
            let trimmed = entry.trimmingCharacters(in: .whitespacesAndNewlines)
            guard let colon = trimmed.firstIndex(of: ":") else {
                throw SigningKeysError("entry \(n + 1) of \(Self.environmentKey) is not id:base64key")
            }
            let id = String(trimmed[..<colon])
            guard Self.isValidID(id) else {
                throw SigningKeysError("key id '\(id)' must be 1 to 32 letters, digits, '-' or '_'")
            }
            guard let raw = Data(base64Encoded: String(trimmed[trimmed.index(after: colon)...])) else {
                throw SigningKeysError("key '\(id)' is not valid base64")
            }
            guard raw.count >= Self.minimumKeyBytes else {
                throw SigningKeysError("key '\(id)' has \(raw.count) bytes; at least \(Self.minimumKeyBytes) are needed (32 recommended)")
            }
            guard !keys.contains(where: { $0.id == id }) else { throw SigningKeysError("key id '\(id)' appears twice") }
            let material = SymmetricKey(data: raw)
            let signing = Self.derive(material, "kale/sign/1")
            keys.append(Key(id: id, signing: signing, encryption: Self.derive(material, "kale/encrypt/1"),
                            keyedMAC: HMAC<SHA256>(key: signing)))
        }
        guard !keys.isEmpty else { throw SigningKeysError("\(Self.environmentKey) holds no key") }
        self.keys = keys
    }

    /// The keys named by `KALE_SIGNING_KEYS`, or nil when it is unset.
    public static func fromEnvironment(_ environment: [String: String]) throws -> SigningKeys? {
        guard let text = environment[environmentKey] else { return nil }
        return try SigningKeys(parsing: text)
    }

    func key(_ id: some StringProtocol) -> Key? { keys.first { $0.id == id } }

    static func isValidID(_ id: some StringProtocol) -> Bool {
        (1...32).contains(id.utf8.count) && id.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F
        }
    }

    private static func derive(_ material: SymmetricKey, _ purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: material, info: Data(purpose.utf8), outputByteCount: 32)
    }
}

/// A `KALE_SIGNING_KEYS` that cannot be used; the message never contains key material.
public struct SigningKeysError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
