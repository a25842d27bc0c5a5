/// What every page template needs to know about the request and the dashboard.
struct PageContext: Sendable {
    var settings: DashboardSettings
    /// The browser's CSRF token, repeated in every form.
    var csrf: String
    /// Logged in (or carrying the bearer token).
    var authenticated: Bool
    /// The path of the page, for a login link that comes back to it.
    var path: String
    /// Whether this visitor may read the pages (the token, or a loopback request that needs
    /// none). Those who may not see no more than the login form: not even where Redis is.
    var mayRead: Bool

    /// Whether to render action buttons: actions are possible and this visitor may use them.
    var canAct: Bool { settings.actionsEnabled && authenticated }

    /// The hidden CSRF field of every form.
    var csrfField: HTML { HTML(raw: "<input type=\"hidden\" name=\"csrf\"") + .attr("value", csrf) + HTML(raw: ">") }

    /// A one-line form posting to `action` with a submit button and hidden `fields`.
    func button(_ label: String, action: String, fields: [(String, String)] = [], danger: Bool = false) -> HTML {
        var html = HTML(raw: "<form method=\"post\" class=\"inline\"") + .attr("action", action) + HTML(raw: ">") + csrfField
        for (name, value) in fields {
            html += HTML(raw: "<input type=\"hidden\"") + .attr("name", name) + .attr("value", value) + HTML(raw: ">")
        }
        html += HTML(raw: "<button type=\"submit\"") + .attr("class", danger ? "danger" : "action") + HTML(raw: ">") + .text(label)
            + HTML(raw: "</button></form>")
        return html
    }

    /// Why no action buttons are shown, or nil when they are.
    var actionNote: HTML? {
        if canAct { return nil }
        if settings.readOnly { return HTML(raw: "<p class=\"note\">Read-only dashboard: no actions.</p>") }
        if settings.token == nil {
            return HTML(raw: "<p class=\"note\">Actions need a token: start the dashboard with KALE_DASHBOARD_TOKEN or --token-file.</p>")
        }
        return HTML(raw: "<p class=\"note\"><a") + .attr("href", "/login?next=" + FormFields.encode(path))
            + HTML(raw: ">Log in</a> to retry, cancel or purge.</p>")
    }
}
