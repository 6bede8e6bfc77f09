import Foundation
import FuseRankTestSupport
import Testing
@testable import FuseRankModel

/// The optional `items.tsv` of a bundle: titles, categories and the shop's own ids by item id.
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
        // Without an external_id column every item's external id is empty.
        #expect(b.items.values.allSatisfy { $0.externalID.isEmpty } && twoColumns.items[ids[5]]?.externalID == "")
    }

    @Test func externalIDsLoad() throws {
        let b = try bundle(items: """
            item_id\texternal_id\ttitle\tcategory
            \(ids[2])\t85123A\tWHITE HANGING HEART T-LIGHT HOLDER\tLIGHTING
            \(ids[3])\t71053\tWHITE METAL LANTERN\t

            """).get()
        #expect(b.hasTitles)
        #expect(b.items[ids[2]] == ItemInfo(title: "WHITE HANGING HEART T-LIGHT HOLDER", category: "LIGHTING", externalID: "85123A"))
        #expect(b.items[ids[3]] == ItemInfo(title: "WHITE METAL LANTERN", externalID: "71053"))
        #expect(b.items[ids[4]] == nil)
        let noCategory = try bundle(items: "item_id\texternal_id\ttitle\r\n\(ids[5])\tPOST\tPOSTAGE\r\n\(ids[6])\tpost\t\r\n").get()
        #expect(noCategory.items[ids[5]] == ItemInfo(title: "POSTAGE", externalID: "POST"))
        #expect(noCategory.items[ids[6]] == ItemInfo(title: "", externalID: "post"))  // case matters: another id
    }

    @Test func aDuplicateExternalIDNamesBothLines() throws {
        let result = try bundle(items: "item_id\texternal_id\ttitle\n\(ids[2])\t85123A\ta\n\(ids[3])\t22423\tb\n\(ids[4])\t85123A\tc\n")
        guard case let .failure(error) = result else {
            Issue.record("a duplicate external id loaded")
            return
        }
        #expect("\(error)".contains("items.tsv"), "\(error)")
        #expect("\(error)".contains("line 4: external id \"85123A\" is already on line 2"), "\(error)")
    }

    @Test(arguments: [
        ("id\ttitle\n", "line 1 must be the header"),
        ("item_id\ttitle\n7\tx\n", "is not in the catalogue"),
        ("item_id\ttitle\nseven\tx\n", "is not an item id"),
        ("item_id\ttitle\tcategory\n114\tx\n", "has 2 fields, the header 3"),
        ("item_id\texternal_id\ttitle\n114\tx\n", "has 2 fields, the header 3"),
        ("item_id\texternal_id\ttitle\tcategory\n114\tA1\tx\n", "has 3 fields, the header 4"),
        ("item_id\texternal_id\ttitle\n114\t\tx\n", "line 2: item 114 has an empty external id"),
        ("item_id\ttitle\texternal_id\n", "line 1 must be the header"),
        ("item_id\texternal_id\n", "line 1 must be the header"),
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
