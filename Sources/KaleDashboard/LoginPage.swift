/// The form that trades the token for a session cookie.
enum LoginPage {
    static func render(page: PageContext, next: String?, error: String?) -> HTML {
        var body = HTML(raw: "<section class=\"panel login\">")
        if page.settings.token == nil {
            body += HTML(raw: "<p>This dashboard has no token, so there is nothing to log in to: start it with KALE_DASHBOARD_TOKEN or --token-file to allow actions.</p>")
            return Layout.page(title: "Log in", page: page, body: body + HTML(raw: "</section>"))
        }
        if let error { body += HTML(raw: "<p class=\"refusal\">") + .text(error) + HTML(raw: "</p>") }
        body += HTML(raw: "<p>This dashboard needs its token (the value of KALE_DASHBOARD_TOKEN or of the --token-file).</p>")
        body += HTML(raw: "<form method=\"post\" action=\"/login\" id=\"login\">") + page.csrfField
        body += HTML(raw: "<input type=\"hidden\" name=\"next\"") + .attr("value", next ?? "/") + HTML(raw: ">")
        body += HTML(raw: "<label>Token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" required autofocus></label> ")
        body += HTML(raw: "<button type=\"submit\" class=\"action\">Log in</button></form></section>")
        return Layout.page(title: "Log in", page: page, body: body)
    }
}
