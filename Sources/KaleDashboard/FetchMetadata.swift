import HTTPTypes

/// The `Sec-Fetch-*` headers browsers add to every request (Fetch Metadata).
///
/// Another site's page can make a visitor's browser ask this dashboard for anything by GET
/// (an `<img>`, a `<script>`, a `fetch` in no-cors mode): it cannot read the answer, but the
/// dashboard would still run the search or the name filter against Redis, once per tag. A
/// request from another site or a sibling subdomain is served only when it is the visitor
/// following a link to a page (a top-level navigation).
enum FetchMetadata {
    static let site = HTTPField.Name("Sec-Fetch-Site")!
    static let mode = HTTPField.Name("Sec-Fetch-Mode")!
    static let dest = HTTPField.Name("Sec-Fetch-Dest")!

    /// True for a request another site made the browser send that is not a navigation to a
    /// document. Clients that send no such headers (curl, older browsers) pass.
    static func isForeignSubrequest(_ headers: HTTPFields) -> Bool {
        guard let site = headers[site]?.lowercased(), site == "cross-site" || site == "same-site" else { return false }
        let navigates = headers[mode]?.lowercased() == "navigate" && (headers[dest]?.lowercased() ?? "document") == "document"
        return !navigates
    }
}
