import Foundation
import FuseRankTestSupport
import Testing
@testable import FuseRankModel

/// The optional `items.tsv` of a bundle: titles and categories by item id.
@Suite struct ItemCatalogueTests {
    func bundle(items text: String?) throws -> Result<ModelBundle, Error> {
        let s = SyntheticBundle()
        let dir = try s.write()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        if let text { try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/items.tsv")) }
        return Result { try ModelBundle(path: dir) }
    }

    var ids: [Int64] { SyntheticBundle().itemIDs }

    @Test func titlesAndCategoriesLoad() throws {
        let b = try bundle(items: "item_id\ttitle\tcategory\n\(ids[2])\tToy Story (1995)\tAnimation|Comedy\n\(ids[3])\tHeat (1995)\t\n").get()
        #expect(b.hasTitles)
        #expect(b.items[ids[2]] == ItemInfo(title: "Toy Story (1995)", category: "Animation|Comedy"))
        #expect(b.items[ids[3]] == ItemInfo(title: "Heat (1995)"))
        #expect(b.items[ids[4]] == nil)
        let none = try bundle(items: nil).get()
        #expect(!none.hasTitles && none.items.isEmpty)
        let twoColumns = try bundle(items: "item_id\ttitle\r\n\(ids[5])\tAlien\r\n").get()
        #expect(twoColumns.items[ids[5]] == ItemInfo(title: "Alien"))
    }

    @Test(arguments: [
        ("id\ttitle\n", "line 1 must be the header"),
        ("item_id\ttitle\n7\tx\n", "is not in the catalogue"),
        ("item_id\ttitle\nseven\tx\n", "is not an item id"),
        ("item_id\ttitle\tcategory\n114\tx\n", "has 2 fields, the header 3"),
    ])
    func malformedFilesAreRejected(text: String, reason: String) throws {
        let result = try bundle(items: text)
        guard case let .failure(error) = result else {
            Issue.record("loaded: \(text)")
            return
        }
        #expect("\(error)".contains(reason), "\(error)")
        #expect("\(error)".contains("items.tsv"))
    }

    @Test func duplicatesAreRejected() throws {
        let result = try bundle(items: "item_id\ttitle\n\(ids[2])\ta\n\(ids[2])\tb\n")
        #expect(throws: BundleError.self) { try result.get() }
    }
}
