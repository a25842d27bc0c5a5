import Hummingbird
import HTTPTypes
import Logging

/// Adds the security headers to every response, refusals and assets included.
///
/// The CSP allows no inline script and no other origin: even if an escaping slip let a task's
/// text add an `onerror` attribute, the browser would not run it.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    static var csp: String {
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do { response = try await next(request, context) }
        catch let error as any HTTPResponseError {
            // Hummingbird's own errors (no route: 404) get the headers too.
            response = Self.plain(error.status)
        } catch {
            // Whatever a handler did not expect: a bare 500 from Hummingbird would have no
            // headers at all. The error stays in the log, not in the answer.
            context.logger.error("unhandled error", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            response = Self.plain(.internalServerError)
        }
        response.headers[.contentSecurityPolicy] = Self.csp
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        return response
    }

    private static func plain(_ status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: "\(status.code) \(status.reasonPhrase)\n")))
    }
}
