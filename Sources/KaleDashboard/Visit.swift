import Foundation
import Hummingbird
import HTTPTypes
import Kale

/// One request as the dashboard's policy sees it: who asks (session, bearer token), its CSRF
/// token, where it came from, and its query and body already parsed.
struct Visit: Sendable {
    var path: String
    var query: FormFields
    /// The fields of a urlencoded body (a browser form), else nil.
    var form: FormFields?
    /// The body as it came, for JSON requests.
    var body: [UInt8]
    var cookies: [String: String]
    /// The token in `Authorization: Bearer …`, if any.
    var bearer: String?
    var origin: String?
    var referer: String?
    /// The `Host` the request was sent to (HTTP/1.1 `Host`, the HTTP/2 authority).
    var host: String?
    /// True when a proxy says it passed the request on (`Forwarded`, `X-Forwarded-*`,
    /// `X-Real-IP`): the peer is then the proxy, whatever its bind and `Host` look like.
    var forwarded: Bool
    /// This visitor's CSRF token: its session's, else its cookie's, else a fresh one sent
    /// with the response (in the cookie).
    var csrf: String
    var csrfIsNew: Bool
    /// True with a live login session or the right bearer token.
    var authenticated: Bool
    var viaBearer: Bool

    /// Bodies larger than this are refused (an enqueue's args are capped by the message size anyway).
    static let maxBody = 2 << 20
    /// The cap before the caller has shown the token or a session: a login form, or an action
    /// form carrying the token, is a few hundred bytes, and a stranger must not make the
    /// dashboard buffer megabytes.
    static let maxUnauthenticatedBody = 8 << 10

    /// A body over ``limit``: 413.
    struct TooLarge: Error {
        var limit: Int
    }

    init(_ request: Request, access: AccessControl) async throws {
        var request = request
        path = request.uri.path
        query = FormFields(encoded: request.uri.query ?? "")
        var jar: [String: String] = [:]
        for header in request.headers[values: .cookie] {
            for item in header.split(separator: ";") {
                let kv = item.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { jar[kv[0].trimmingCharacters(in: .whitespaces)] = kv[1].trimmingCharacters(in: .whitespaces) }
            }
        }
        cookies = jar
        if let auth = request.headers[.authorization], auth.lowercased().hasPrefix("bearer ") {
            bearer = String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        viaBearer = access.isToken(bearer)
        let session = jar[AccessControl.sessionCookie].flatMap { access.isSession($0) ? $0 : nil }
        authenticated = viaBearer || session != nil
        // Who asks is known from the headers alone, so the body is read only after: with the
        // token or a session up to 2 MiB, else 8 KiB.
        body = []
        if request.method == .post {
            let limit = authenticated ? Self.maxBody : Self.maxUnauthenticatedBody
            do { body = Array(try await request.collectBody(upTo: limit).readableBytesView) }
            catch { throw TooLarge(limit: limit) }
        }
        let type = request.headers[.contentType] ?? ""
        form = type.lowercased().hasPrefix("application/x-www-form-urlencoded") ? FormFields(encoded: String(decoding: body, as: UTF8.self)) : nil
        origin = request.headers[.origin]
        referer = request.headers[.referer]
        host = request.head.authority
        forwarded = Self.forwardingHeaders.contains { request.headers[$0] != nil }
        // A session's token is its own; the cookie's only until there is a session.
        if let session { (csrf, csrfIsNew) = (access.csrf(forSession: session), false) }
        else if let c = jar[AccessControl.csrfCookie], c.count == 64 { (csrf, csrfIsNew) = (c, false) }
        else { (csrf, csrfIsNew) = (AccessControl.randomToken(), true) }
        sentCSRF = form?["csrf"] ?? request.headers[HTTPField.Name("X-CSRF-Token")!]
    }

    /// True when an `Origin` (or, without one, a `Referer`) names the host the request was
    /// sent to. Browsers send one with every POST (the pages' `Referrer-Policy: same-origin`
    /// keeps the `Referer` for this dashboard), so a form POST with neither is not from its pages.
    var hasSameOrigin: Bool { (origin != nil || referer != nil) && isSameOrigin }

    /// False when an `Origin` (or, without one, a `Referer`) names another host than the one
    /// the request was sent to. Neither header present passes: curl and other clients send none.
    var isSameOrigin: Bool {
        // Both are `scheme://host[:port]…`, and browsers leave a default port out of both.
        func authority(_ url: String) -> String? {
            guard let r = url.range(of: "://") else { return nil }
            return String(url[r.upperBound...].prefix { $0 != "/" }).lowercased()
        }
        guard let sent = origin ?? referer else { return true }
        guard let host, let a = authority(sent) else { return false }
        return a == host.lowercased()
    }

    /// Whether the request names this machine in its `Host` (`127.0.0.1`, `localhost` or
    /// `[::1]`, any port). A page served on a loopback bind to another name is one a DNS-rebinding
    /// site could read: such requests are treated as from outside (the token is needed).
    var hostIsLoopback: Bool {
        guard let host = host?.lowercased() else { return false }
        let name = host.hasPrefix("[") ? String(host.prefix { $0 != "]" }) + "]" : String(host.prefix { $0 != ":" })
        return ["127.0.0.1", "localhost", "[::1]"].contains(name)
    }

    /// Headers a reverse proxy adds. A client could send them too, which only costs it the
    /// token-free view.
    static let forwardingHeaders = ["Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-IP"]
        .map { HTTPField.Name($0)! }

    /// The token a form carries (field `token`).
    var formToken: String? { form?["token"] }

    /// The CSRF token a form (field `csrf`) or a script (header `X-CSRF-Token`) sent.
    var sentCSRF: String?

    /// The body as a JSON object; nil when it is not one.
    var jsonObject: [String: JSONValue]? {
        guard case .object(let o)? = try? JSONValue(parsing: Data(body)) else { return nil }
        return o
    }
}
