import Crypto
import Foundation
import Synchronization

/// The dashboard's security decisions: the token, login sessions, CSRF tokens.
///
/// A login (`POST /login` with the token) opens a session: a random id in an HttpOnly,
/// SameSite=Strict cookie, kept in memory (a restart logs everyone out). A session's CSRF
/// token is HMAC-SHA256(a secret drawn at start, session id): forms repeat it in a hidden
/// field, and a cookie someone else planted cannot stand in for it. Before a login, a browser
/// gets a random CSRF token in a cookie that its forms repeat (double submit). Tokens are
/// compared in constant time.
final class AccessControl: Sendable {
    static let sessionCookie = "kale_session"
    static let csrfCookie = "kale_csrf"
    /// How long a login lasts.
    static let sessionLifetime: Duration = .seconds(12 * 3600)
    /// Sessions kept at most; the oldest goes first (a login flood cannot grow memory).
    static let maxSessions = 1000

    let settings: DashboardSettings
    private let sessions = Mutex<[String: ContinuousClock.Instant]>([:])
    /// The key of the sessions' CSRF tokens; never leaves the process.
    private let csrfKey = SymmetricKey(size: .bits256)

    init(settings: DashboardSettings) {
        self.settings = settings
    }

    /// The CSRF token of session `id`: derived, so nothing more is stored, and only this
    /// process can make it.
    func csrf(forSession id: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(id.utf8), using: csrfKey).map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `candidate` is the token; false when none is configured.
    func isToken(_ candidate: String?) -> Bool {
        guard let token = settings.token, let candidate else { return false }
        return Self.constantTimeEquals(candidate, token)
    }

    /// A new session id, remembered until it expires.
    func openSession() -> String {
        let id = Self.randomToken()
        let now = ContinuousClock.now
        sessions.withLock { s in
            s = s.filter { $0.value > now }
            if s.count >= Self.maxSessions, let oldest = s.min(by: { $0.value < $1.value })?.key { s[oldest] = nil }
            s[id] = now + Self.sessionLifetime
        }
        return id
    }

    func closeSession(_ id: String?) {
        guard let id else { return }
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    /// Whether `id` names a live session.
    func isSession(_ id: String?) -> Bool {
        guard let id, !id.isEmpty else { return false }
        let now = ContinuousClock.now
        return sessions.withLock { s in
            // Looked up by comparing every key in constant time: a dictionary lookup's timing
            // would not leak much, but this costs nothing at a thousand sessions.
            var found = false
            for (key, expiry) in s where expiry > now && Self.constantTimeEquals(key, id) { found = true }
            return found
        }
    }

    /// 32 random bytes as hex, from the system's CSPRNG.
    static func randomToken() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }

    /// Compares two strings in time that depends only on their lengths.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }
}
