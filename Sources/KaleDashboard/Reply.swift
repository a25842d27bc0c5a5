import Foundation
import Hummingbird
import Kale

/// Builds the dashboard's responses: pages, JSON, redirects, refusals.
enum Reply {
    /// A page. A browser seen for the first time gets its CSRF cookie with it.
    static func html(_ page: HTML, status: HTTPResponse.Status = .ok, visit: Visit) -> Response {
        var r = Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                         body: ResponseBody(byteBuffer: ByteBuffer(string: page.markup)))
        if visit.csrfIsNew {
            // HttpOnly: pages repeat it in their forms; no script needs to read it.
            r.setCookie(Cookie(name: AccessControl.csrfCookie, value: visit.csrf, path: "/", httpOnly: true, sameSite: .strict))
        }
        return r
    }

    /// A JSON value (the CLI's `--json` shapes).
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: value.jsonString + "\n")))
    }

    /// `{"error": message}` with `status`.
    static func jsonError(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(.object(["error": .string(message)]), status: status)
    }

    /// 303 to a path of this dashboard; anything else (another host, `//evil`) goes to `/`.
    static func redirect(to path: String?) -> Response {
        Response(status: .seeOther, headers: [.location: path.flatMap(localPath) ?? "/", .cacheControl: "no-store"])
    }

    /// `path` when it can only name a page of this dashboard, else nil. Browsers drop tabs and
    /// newlines from a URL and read `\` as `/`, so `/\t/evil.com` would be `//evil.com`:
    /// a single `/`, then neither `/` nor `\`, no control character or space anywhere, and
    /// nothing a URL parser reads as a scheme or a host.
    static func localPath(_ path: String) -> String? {
        let bytes = Array(path.utf8)
        guard bytes.first == UInt8(ascii: "/"), bytes.allSatisfy({ $0 > 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "\\") }) else { return nil }
        if bytes.count > 1, bytes[1] == UInt8(ascii: "/") { return nil }
        guard let url = URLComponents(string: path), url.scheme == nil, url.host == nil else { return nil }
        return path
    }

    /// A refusal in the form the caller reads: a small page for a browser (a form post, or a
    /// page), JSON for API calls (`/api/…` without a form body).
    static func refuse(_ status: HTTPResponse.Status, _ message: String, visit: Visit, page: PageContext) -> Response {
        if visit.form == nil && visit.path.hasPrefix("/api/") { return jsonError(status, message) }
        return html(Layout.page(title: "\(status.code)", page: page, body: HTML(raw: "<section class=\"panel\"><h2>")
                    + .text("\(status.code) \(status.reasonPhrase)") + HTML(raw: "</h2><p class=\"refusal\">") + .text(message)
                    + HTML(raw: "</p></section>")), status: status, visit: visit)
    }

    /// An embedded asset, cached for an hour (the names carry no hash; a restart after an
    /// upgrade serves the new file on the next load after that).
    static func asset(_ bytes: [UInt8], type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=3600"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
