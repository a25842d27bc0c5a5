import Foundation
import Hummingbird
import Kale
import KaleCLI
import Logging

extension Dashboard {
    /// The POST routes that change state, each behind ``Gate/act``. A browser form gets a 303
    /// back to its page (field `back`) with a notice; an API call gets JSON.
    func addActions(to router: Router<BasicRequestContext>) {
        router.post("/api/tasks/:id/retry") { request, context in try await self.serve(request, .act) { visit, _ in
            let id = try Self.decoded(context.parameters.get("id"))
            let (info, _) = try await self.task(id, queue: visit.field("queue"))
            let requeued: Bool
            switch info.state {
            case .dead: requeued = try await self.client.retryDead(id: id, queue: info.queue) != nil
            case .failed: requeued = try await self.client.retryFailed(id: id, queue: info.queue)
            default: requeued = false
            }
            let json = JSONValue.object(["id": .string(id), "queue": .string(info.queue), "requeued": .bool(requeued)])
            return self.done(visit, json, notice: Notice(requeued ? .requeued : .notRequeued),
                             status: requeued ? .ok : .conflict)
        } }
        router.post("/api/tasks/:id/cancel") { request, context in try await self.serve(request, .act) { visit, _ in
            let id = try Self.decoded(context.parameters.get("id"))
            let (info, _) = try await self.task(id, queue: visit.field("queue"))
            let outcome = try await self.client.cancel(id: id, queue: info.queue)
            let json = JSONValue.object(["id": .string(id), "queue": .string(info.queue), "outcome": .string(outcome)])
            return self.done(visit, json, notice: Notice(cancelOutcome: outcome))
        } }
        router.post("/api/dead/retry") { request, _ in try await self.serve(request, .act) { visit, _ in
            let refs = try await self.client.retryDead(try await self.selection(visit))
            let json = JSONValue.object(["requeued": .number(Double(refs.count)),
                                         "tasks": .array(refs.map { .object(["id": .string($0.id), "queue": .string($0.queue)]) })])
            return self.done(visit, json, notice: Notice(.requeued, count: refs.count))
        } }
        router.post("/api/dead/purge") { request, _ in try await self.serve(request, .act) { visit, _ in
            let n = try await self.client.purgeDead(try await self.selection(visit))
            return self.done(visit, .object(["deleted": .number(Double(n))]), notice: Notice(.deleted, count: n))
        } }
        router.post("/api/tasks") { request, _ in try await self.serve(request, .act) { visit, _ in try await self.enqueue(visit) } }
    }

    /// The answer to an action: JSON for API callers, a redirect with a notice for forms.
    func done(_ visit: Visit, _ json: JSONValue, notice: Notice, status: HTTPResponse.Status = .ok) -> Response {
        guard visit.form != nil else { return Reply.json(json, status: status) }
        var back = visit.field("back") ?? "/"
        back += (back.contains("?") ? "&" : "?") + "notice=" + notice.query
        return Reply.redirect(to: back)
    }

    /// The dead tasks an action names: `task` fields (`queue/id`, a form's checkboxes), one
    /// `one` (a row's button), or `all` with the search fields, run again now; in JSON
    /// `{"tasks": [{"queue", "id"}]}` or `{"all": true, "queue", "name", "type", "text"}`.
    func selection(_ visit: Visit) async throws -> [(queue: String, id: String)] {
        var fields = visit.form ?? FormFields()
        if visit.form == nil {
            guard let o = visit.jsonObject else { throw BadRequest("the body must be a JSON object or a form") }
            for (k, v) in o {
                switch (k, v) {
                case ("all", .bool(let b)): if b { fields.pairs.append(("all", "1")) }
                case ("queue", .string(let s)), ("name", .string(let s)), ("type", .string(let s)), ("text", .string(let s)):
                    fields.pairs.append((k, s))
                case ("tasks", .array(let items)):
                    for item in items {
                        guard case .string(let q)? = item["queue"], case .string(let id)? = item["id"] else {
                            throw BadRequest("each of tasks must be {\"queue\": …, \"id\": …}")
                        }
                        fields.pairs.append(("task", q + "/" + id))
                    }
                default: throw BadRequest("unknown or mistyped field '\(k)' (use tasks, or all with queue, name, type, text)")
                }
            }
        }
        if fields["all"] != nil {
            return try await client.searchDead(Self.deadQuery(fields)).matches.map { ($0.queue, $0.id) }
        }
        let refs = fields["one"].map { [$0] } ?? fields.all("task")
        guard !refs.isEmpty else { throw BadRequest("select dead tasks first (or use all)") }
        return try refs.map { ref in
            guard let slash = ref.firstIndex(of: "/"), Keys.isValidQueueName(String(ref[..<slash])), ref.index(after: slash) < ref.endIndex else {
                throw BadRequest("'\(ref)' is not queue/id")
            }
            return (String(ref[..<slash]), String(ref[ref.index(after: slash)...]))
        }
    }

    func login(_ visit: Visit, _ page: PageContext) throws -> Response {
        guard settings.token != nil else { return Reply.html(LoginPage.render(page: page, next: nil, error: nil), status: .forbidden, visit: visit) }
        guard visit.hasSameOrigin, !visit.csrfIsNew, let sent = visit.sentCSRF, AccessControl.constantTimeEquals(sent, visit.csrf) else {
            return Reply.html(LoginPage.render(page: page, next: visit.field("next"), error: "The form expired: try again."),
                              status: .forbidden, visit: visit)
        }
        guard access.isToken(visit.formToken) else {
            logger.notice("dashboard login refused")
            return Reply.html(LoginPage.render(page: page, next: visit.field("next"), error: "Wrong token."), status: .unauthorized, visit: visit)
        }
        var r = Reply.redirect(to: visit.field("next"))
        r.setCookie(Cookie(name: AccessControl.sessionCookie, value: access.openSession(), path: "/", httpOnly: true, sameSite: .strict))
        return r
    }

    func logout(_ visit: Visit) -> Response {
        if visit.hasSameOrigin, let sent = visit.sentCSRF, AccessControl.constantTimeEquals(sent, visit.csrf) {
            access.closeSession(visit.cookies[AccessControl.sessionCookie])
        }
        var r = Reply.redirect(to: "/")
        r.setCookie(Cookie(name: AccessControl.sessionCookie, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .strict))
        return r
    }
}

extension Visit {
    /// A field of the form body, else of the query string.
    func field(_ name: String) -> String? { form?[name] ?? query[name] }
}
