/// The one escaping function every template uses, and the `HTML` value that marks text as
/// already escaped, so a template cannot put a task's text into a page unescaped by accident.
///
/// Values a task supplies (its name, arguments, error text, a worker's host) reach a page only
/// through ``HTML/text(_:)``, which escapes `& < > " '`: safe in element text and in quoted
/// attribute values alike, so one function covers both contexts. Attribute values are always
/// written quoted (`attr(_:_:)`).
struct HTML: Sendable, CustomStringConvertible {
    /// The markup, already safe to send.
    private(set) var markup: String

    /// Trusted markup written by the dashboard itself (never task text).
    init(raw markup: String) { self.markup = markup }

    var description: String { markup }

    /// `text` escaped for element text and quoted attribute values.
    static func text(_ text: String) -> HTML { HTML(raw: escape(text)) }

    /// ` name="value"` with the value escaped.
    static func attr(_ name: String, _ value: String) -> HTML { HTML(raw: " \(name)=\"\(escape(value))\"") }

    /// Concatenation.
    static func + (a: HTML, b: HTML) -> HTML { HTML(raw: a.markup + b.markup) }
    static func += (a: inout HTML, b: HTML) { a.markup += b.markup }

    /// The escaping itself: `&` first, then the characters that end a text run or a quoted
    /// attribute. Control characters other than tab and newline are replaced with U+FFFD,
    /// since HTML forbids them and some would end up in copy-pasted shell lines.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for u in text.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n": out.unicodeScalars.append(u)
            default:
                if u.value < 0x20 || u.value == 0x7F { out += "\u{FFFD}" } else { out.unicodeScalars.append(u) }
            }
        }
        return out
    }
}
