import Hummingbird
import HTTPTypes

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
            response = Response(status: error.status, headers: [.contentType: "text/plain; charset=utf-8"],
                                body: ResponseBody(byteBuffer: ByteBuffer(string: "\(error.status.code) \(error.status.reasonPhrase)\n")))
        }
        response.headers[.contentSecurityPolicy] = Self.csp
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        return response
    }
}
