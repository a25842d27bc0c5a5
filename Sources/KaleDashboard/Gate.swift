import Hummingbird
import Kale
import KaleRedis
import Logging

/// Who may do what: a handler is wrapped in one of three gates.
enum Gate {
    /// Anyone: assets, the login page, `/healthz`.
    case open
    /// Pages and reads: anyone on a loopback bind, else a logged-in visitor or the bearer token.
    case read
    /// Actions: a POST with the token (bearer, form field or login session), same origin, the
    /// CSRF token unless the bearer token was sent, and never in read-only mode.
    case act
}

/// A bad request the visitor can fix: answered 400 with `message`.
struct BadRequest: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

extension Dashboard {
    /// Runs `handler` for `request` behind `gate`, answering refusals and errors itself.
    func serve(_ request: Request, _ gate: Gate, _ handler: (Visit, PageContext) async throws -> Response) async throws -> Response {
        // Before the body is read and before any handler touches Redis.
        if FetchMetadata.isForeignSubrequest(request.headers) {
            return Reply.jsonError(.forbidden, "cross-site request refused: open the dashboard's page itself")
        }
        let visit: Visit
        do { visit = try await Visit(request, access: access) }
        catch let e as Visit.TooLarge { return Reply.jsonError(.contentTooLarge, "the request body is over \(e.limit) bytes") }
        let page = page(visit)
        if let refusal = refusal(visit, gate, page) { return refusal }
        do {
            return try await handler(visit, page)
        } catch let e as BadRequest {
            return Reply.refuse(.badRequest, e.message, visit: visit, page: page)
        } catch let e as NotFound {
            return Reply.refuse(.notFound, e.message, visit: visit, page: page)
        } catch let e as KaleError where e.code == .notFound {
            // A task that went away under us (a wait on an id whose record is gone).
            return Reply.refuse(.notFound, e.description, visit: visit, page: page)
        } catch let e as KaleError where e.code == .invalidOptions || e.code == .payloadTooLarge || e.code == .duplicateID {
            return Reply.refuse(.badRequest, e.description, visit: visit, page: page)
        } catch let e as RedisError {
            // RedisError's detail never holds the password (RedisURL redacts it).
            logger.warning("redis error", metadata: ["path": "\(visit.path)", "error": "\(e.detail)"])
            return Reply.refuse(.serviceUnavailable, "Redis: \(e.detail)", visit: visit, page: page)
        }
    }

    /// Whether `visit` may read pages without the token: only on a loopback bind without
    /// `--require-token`, asked for by a loopback name (not a DNS-rebinding one), and not
    /// through a proxy (which would make every visitor of the proxy a loopback one).
    func readsWithoutToken(_ visit: Visit) -> Bool {
        settings.isLoopback && !settings.requireToken && visit.hostIsLoopback && !visit.forwarded
    }

    private func refusal(_ visit: Visit, _ gate: Gate, _ page: PageContext) -> Response? {
        switch gate {
        case .open:
            return nil
        case .read:
            if visit.authenticated || readsWithoutToken(visit) { return nil }
            if visit.path.hasPrefix("/api/") || visit.path == "/live" || visit.path == "/metrics" {
                return Reply.jsonError(.unauthorized, "this dashboard needs the token: send Authorization: Bearer <token>")
            }
            return Reply.html(LoginPage.render(page: page, next: page.path, error: nil), status: .unauthorized, visit: visit)
        case .act:
            if settings.readOnly { return Reply.refuse(.forbidden, "the dashboard is read-only", visit: visit, page: page) }
            if !visit.isSameOrigin { return Reply.refuse(.forbidden, "cross-origin request refused", visit: visit, page: page) }
            if settings.token == nil {
                return Reply.refuse(.forbidden, "actions need a token: start the dashboard with KALE_DASHBOARD_TOKEN or --token-file",
                                    visit: visit, page: page)
            }
            if visit.viaBearer { return nil }
            if visit.bearer != nil { return Reply.refuse(.unauthorized, "wrong token", visit: visit, page: page) }
            guard visit.authenticated || access.isToken(visit.formToken) else {
                return Reply.refuse(.unauthorized, "this action needs the token (log in, or send Authorization: Bearer <token>)",
                                    visit: visit, page: page)
            }
            // Credentials a browser sends by itself (the session cookie) or a form field need
            // proof that this dashboard's own page made the request.
            guard !visit.csrfIsNew, let sent = visit.sentCSRF, AccessControl.constantTimeEquals(sent, visit.csrf) else {
                return Reply.refuse(.forbidden, "missing or wrong CSRF token: reload the page and try again", visit: visit, page: page)
            }
            // Without Origin and Referer nothing shows where the POST came from: refused too.
            guard visit.hasSameOrigin else {
                return Reply.refuse(.forbidden, "the request names no Origin or Referer: send it from the dashboard's page",
                                    visit: visit, page: page)
            }
            return nil
        }
    }
}
