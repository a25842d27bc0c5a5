/// A plain-text table: a header row and aligned columns, numbers right-aligned.
struct TextTable {
    enum Alignment { case left, right }

    var columns: [(title: String, alignment: Alignment)]
    var rows: [[String]] = []

    init(_ columns: [(String, Alignment)]) {
        self.columns = columns.map { (title: $0.0, alignment: $0.1) }
    }

    mutating func add(_ cells: [String]) { rows.append(cells) }

    /// The table as lines; the last column is not padded, so long text does not add trailing blanks.
    func render() -> String {
        let all = [columns.map(\.title)] + rows
        let widths = columns.indices.map { i in all.map { i < $0.count ? $0[i].count : 0 }.max() ?? 0 }
        return all.map { row in
            columns.indices.map { i -> String in
                let cell = i < row.count ? row[i] : ""
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                if i == columns.count - 1 { return columns[i].alignment == .right ? pad + cell : cell }
                return columns[i].alignment == .right ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
