/// The frame of every page: head, navigation, the live script, the footer.
enum Layout {
    /// A whole page around `body`. `live` is the SSE URL the page's script follows, if any.
    static func page(title: String, page: PageContext, active: String = "", live: String? = nil, body: HTML) -> HTML {
        var html = HTML(raw: """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>
        """) + .text(title + " · Kale") + HTML(raw: """
        </title>
        <link rel="icon" href="data:,">
        <link rel="stylesheet" href="/assets/app.css">
        <script src="/assets/app.js" defer></script>
        </head>
        """)
        html += HTML(raw: "<body") + (live.map { HTML.attr("data-live", $0) } ?? HTML(raw: "")) + HTML(raw: "><header><nav>")
        html += HTML(raw: "<a class=\"brand\" href=\"/\">Kale</a>")
        for (href, label) in [("/", "Overview"), ("/workers", "Workers"), ("/dead", "Dead set")] {
            html += HTML(raw: "<a") + .attr("href", href) + (label == active ? HTML.attr("class", "active") : HTML(raw: ""))
                + HTML(raw: ">") + .text(label) + HTML(raw: "</a>")
        }
        html += HTML(raw: "</nav><div class=\"who\">")
        if page.settings.readOnly { html += HTML(raw: "<span class=\"badge\">read-only</span>") }
        if page.mayRead { html += HTML(raw: "<span class=\"redis\">") + .text(page.settings.redisDescription) + HTML(raw: "</span>") }
        if page.authenticated {
            html += HTML(raw: "<form method=\"post\" action=\"/logout\" class=\"inline\">") + page.csrfField
                + HTML(raw: "<button type=\"submit\" class=\"link\">Log out</button></form>")
        } else if page.settings.token != nil {
            html += HTML(raw: "<a") + .attr("href", "/login?next=" + FormFields.encode(page.path)) + HTML(raw: ">Log in</a>")
        }
        html += HTML(raw: "</div></header><main>")
        html += HTML(raw: "<h1>") + .text(title) + HTML(raw: "</h1>") + body
        html += HTML(raw: "</main><footer><span id=\"live-status\" class=\"live-status\">static page</span> · <a href=\"/api/openapi.json\">API</a></footer></body></html>\n")
        return html
    }

    /// A table with a header row; `rows` are already-built `<tr>` elements.
    static func table(_ headers: [String], rows: [HTML], id: String? = nil) -> HTML {
        var html = HTML(raw: "<table") + (id.map { HTML.attr("id", $0) } ?? HTML(raw: "")) + HTML(raw: "><thead><tr>")
        for h in headers { html += HTML(raw: "<th>") + .text(h) + HTML(raw: "</th>") }
        html += HTML(raw: "</tr></thead><tbody>")
        for r in rows { html += r }
        return html + HTML(raw: "</tbody></table>")
    }

    /// A `<td>` holding `text`, escaped.
    static func cell(_ text: String, _ attributes: HTML = HTML(raw: "")) -> HTML {
        HTML(raw: "<td") + attributes + HTML(raw: ">") + .text(text) + HTML(raw: "</td>")
    }

    /// A `<td>` holding a link to `href` labelled `text`.
    static func linkCell(_ text: String, href: String, id: Bool = false, after: HTML = HTML(raw: "")) -> HTML {
        HTML(raw: id ? "<td class=\"id\"><a" : "<td><a") + .attr("href", href) + HTML(raw: ">") + .text(text) + HTML(raw: "</a>")
            + after + HTML(raw: "</td>")
    }

    /// The link to a task's page.
    static func taskHref(_ id: String, queue: String) -> String {
        "/tasks/" + FormFields.encode(id) + "?queue=" + FormFields.encode(queue)
    }
}
