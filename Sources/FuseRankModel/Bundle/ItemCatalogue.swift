import Foundation

/// What a person reads about an item: its title and category from the bundle's optional
/// `items.tsv` (docs/model-format.md).
public struct ItemInfo: Sendable, Equatable {
    public var title: String
    public var category: String

    public init(title: String, category: String = "") {
        self.title = title
        self.category = category
    }
}

extension ModelBundle {
    /// Reads `items.tsv`: a header `item_id<TAB>title[<TAB>category]`, then one line per item of
    /// the catalogue with the same columns (UTF-8; a title or category holds no tab).
    /// - Returns: the items by id; empty when the bundle has no `items.tsv`.
    /// - Throws: ``BundleError/badItems(file:reason:)`` naming the line that is wrong.
    static func loadItems(_ path: String, catalogue rows: [Int64: Int32]) throws -> [Int64: ItemInfo] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        let lines = try textLines(path) { BundleError.badItems(file: path, reason: $0) }
        guard let header = lines.first, header == "item_id\ttitle" || header == "item_id\ttitle\tcategory" else {
            throw BundleError.badItems(file: path, reason: "line 1 must be the header item_id<TAB>title[<TAB>category]")
        }
        let columns = header.split(separator: "\t").count
        var items: [Int64: ItemInfo] = [:]
        items.reserveCapacity(lines.count - 1)
        for (n, line) in lines.enumerated().dropFirst() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == columns else {
                throw BundleError.badItems(file: path, reason: "line \(n + 1) has \(fields.count) fields, the header \(columns)")
            }
            guard let id = Int64(fields[0]) else {
                throw BundleError.badItems(file: path, reason: "line \(n + 1): \"\(fields[0])\" is not an item id")
            }
            guard rows[id] != nil else {
                throw BundleError.badItems(file: path, reason: "line \(n + 1): item \(id) is not in the catalogue")
            }
            let info = ItemInfo(title: String(fields[1]), category: columns == 3 ? String(fields[2]) : "")
            if items.updateValue(info, forKey: id) != nil {
                throw BundleError.badItems(file: path, reason: "line \(n + 1): item \(id) is listed twice")
            }
        }
        return items
    }
}
