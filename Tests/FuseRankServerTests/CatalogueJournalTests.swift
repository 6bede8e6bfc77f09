import Foundation
import FuseRankModel
import FuseRankTestSupport
import FuseRankWire
import Logging
import Testing
@testable import FuseRankServer

/// The catalogue journal: records survive a reopen, a torn last record is dropped (and cut off),
/// damage before the last record refuses to open; replay onto a new version drops the upserts of
/// ids it learned.
@Suite struct CatalogueJournalTests {
    static func tempPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-journal-\(UUID().uuidString)/m/catalogue.journal").path
    }

    static let upsert = JournalRecord(
        version: "1",
        change: .upsert(UpsertItemsRequest(items: [ItemContent(itemID: 5000, textTokens: [2, 3], contentVector: [0.5, 1], title: "new")])))
    static let hide = JournalRecord(version: "1", change: .availability(SetItemsAvailableRequest(itemIDs: [114, 5000], available: false)))

    @Test func recordsSurviveAReopen() throws {
        let path = Self.tempPath()
        let journal = try CatalogueJournal(path: path)
        #expect(try journal.append(Self.upsert) == 1)
        #expect(try journal.append(Self.hide) == 2)
        let reopened = try CatalogueJournal(path: path)
        #expect(reopened.records == [Self.upsert, Self.hide])
        #expect(reopened.tornBytes == 0)
        #expect(try reopened.append(Self.hide) == 3)
    }

    @Test func aTornLastRecordIsDropped() throws {
        let path = Self.tempPath()
        let journal = try CatalogueJournal(path: path)
        try journal.append(Self.upsert)
        try journal.append(Self.hide)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        for cut in [1, 5, 9, CatalogueJournal.frame(Self.hide).count - 1] {
            try whole.dropLast(cut).write(to: URL(fileURLWithPath: path))
            let reopened = try CatalogueJournal(path: path)
            #expect(reopened.records == [Self.upsert], "cut \(cut)")
            #expect(reopened.tornBytes == CatalogueJournal.frame(Self.hide).count - cut)
            // Cut back to the good records, so the next append follows them.
            #expect(try reopened.append(Self.hide) == 2)
            #expect(try CatalogueJournal(path: path).records == [Self.upsert, Self.hide])
        }
        // A last record whose bytes are garbage (its CRC fails) is torn too.
        var bytes = [UInt8](whole)
        bytes[bytes.count - 2] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try CatalogueJournal(path: path).records == [Self.upsert])
    }

    @Test func damageBeforeTheLastRecordRefusesToOpen() throws {
        let path = Self.tempPath()
        let journal = try CatalogueJournal(path: path)
        try journal.append(Self.upsert)
        try journal.append(Self.hide)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[CatalogueJournal.magic.count + 12] ^= 0x01  // inside the first payload
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try CatalogueJournal(path: path)
        } throws: { error in
            guard case let JournalError.corrupt(file, offset, _) = error else { return false }
            return file == path && offset == CatalogueJournal.magic.count
        }
    }

    @Test func crcIsZlibs() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    /// A synthetic bundle with a content projection, served as version 1 of model "m" with its
    /// live catalogue journalled in a fresh state directory.
    static func attachedVersion1() throws -> (ModelBundle, String, LiveCatalogues, ServedModel) {
        var synthetic = SyntheticBundle()
        synthetic.addContentProjection(contentDim: 2)
        let bundle = try synthetic.load()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-state-\(UUID().uuidString)").path
        let live = LiveCatalogues(stateDirectory: dir, logger: Logger(label: "test"))
        let v1 = ServedModel(name: "m", version: "1", bundle: bundle, origin: .fixed)
        try live.attach(v1)
        return (bundle, dir, live, v1)
    }

    @Test func replayOnANewVersionDropsLearnedIDs() throws {
        let (bundle, dir, live, v1) = try Self.attachedVersion1()
        // 128 is in the bundle (replaced), 5000 is new.
        let reply = try live.upsert(
            UpsertItemsRequest(items: [ItemContent(itemID: 128, textTokens: [2]), ItemContent(itemID: 5000, textTokens: [3])]), model: v1)
        #expect(reply.added == 1 && reply.replaced == 1 && reply.journalSequence == 1)
        #expect(try live.setAvailable(SetItemsAvailableRequest(itemIDs: [5000, 135], available: false), model: v1).journalSequence == 2)
        #expect(throws: RequestError.self) { try live.setAvailable(SetItemsAvailableRequest(itemIDs: [135, 999_999]), model: v1) }
        #expect(v1.catalogue?.current.contentIDs == [128, 5000])
        #expect(v1.catalogue?.current.hidden == [5000, 135])
        // Same version again (a restart): everything replays.
        let again = ServedModel(name: "m", version: "1", bundle: bundle, origin: .fixed)
        try LiveCatalogues(stateDirectory: dir, logger: Logger(label: "test")).attach(again)
        #expect(again.catalogue?.current.contentIDs == [128, 5000])
        #expect(again.catalogue?.current.hidden == [5000, 135])
        // Version 2's catalogue has 128 (and not 5000): the upsert of 128 is dropped, the rest kept.
        let v2 = ServedModel(name: "m", version: "2", bundle: bundle, origin: .fixed)
        let fresh = LiveCatalogues(stateDirectory: dir, logger: Logger(label: "test"))
        try fresh.attach(v2)
        #expect(v2.catalogue?.current.contentIDs == [5000])
        #expect(v2.catalogue?.current.hidden == [5000, 135])
        let records = try CatalogueJournal(path: dir + "/m/catalogue.journal").records
        guard case let .upsert(kept) = records[0].change else { Issue.record("not an upsert"); return }
        #expect(kept.items.map(\.itemID) == [5000])
        #expect(records.count == 2)
    }

    /// An upsert's external id is journalled with it and replayed; a record written before the
    /// field existed still reads (no external id).
    @Test func externalIDsAreJournalledAndOldRecordsStillRead() throws {
        let (bundle, dir, live, v1) = try Self.attachedVersion1()
        _ = try live.upsert(UpsertItemsRequest(items: [
            ItemContent(itemID: 5000, textTokens: [2], title: "Lantern", externalID: "85123A"),
            ItemContent(itemID: 5001, textTokens: [3], externalID: "POST"),
            ItemContent(itemID: 5002, textTokens: [3]),
        ]), model: v1)
        #expect(v1.catalogue?.current.info[5000] == ItemInfo(title: "Lantern", externalID: "85123A"))
        #expect(v1.catalogue?.current.info[5001] == ItemInfo(title: "", externalID: "POST"))
        #expect(v1.catalogue?.current.info[5002] == nil)
        let again = ServedModel(name: "m", version: "1", bundle: bundle, origin: .fixed)
        try LiveCatalogues(stateDirectory: dir, logger: Logger(label: "test")).attach(again)
        #expect(again.catalogue?.current.info == v1.catalogue?.current.info)

        // An old record: [kind 1][version "1"][UpsertItemsRequest { items { item_id 5000, title "old" } }].
        // It reads with no external id, and an upsert without one is still written as these bytes.
        let oldPayload: [UInt8] = [1, 1, 0] + Array("1".utf8) + [0x12, 0x08, 0x08, 0x88, 0x27, 0x22, 0x03] + Array("old".utf8)
        let old = try #require(JournalRecord(payload: oldPayload))
        #expect(old == JournalRecord(version: "1", change: .upsert(UpsertItemsRequest(items: [ItemContent(itemID: 5000, title: "old")]))))
        #expect(old.payload() == oldPayload)
        let oldDir = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-state-\(UUID().uuidString)").path
        try CatalogueJournal(path: oldDir + "/m/catalogue.journal").append(old)
        let replayed = ServedModel(name: "m", version: "1", bundle: bundle, origin: .fixed)
        try LiveCatalogues(stateDirectory: oldDir, logger: Logger(label: "test")).attach(replayed)
        #expect(replayed.catalogue?.current.info[5000] == ItemInfo(title: "old"))
    }

    @Test func upsertsAreValidated() throws {
        var synthetic = SyntheticBundle()
        synthetic.addContentProjection(contentDim: 2)
        let bundle = try synthetic.load()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-state-\(UUID().uuidString)").path
        let live = LiveCatalogues(stateDirectory: dir, logger: Logger(label: "test"))
        let model = ServedModel(name: "m", version: "1", bundle: bundle, origin: .fixed)
        try live.attach(model)
        func code(_ items: [ItemContent]) -> StatusCode? {
            do {
                _ = try live.upsert(UpsertItemsRequest(items: items), model: model)
                return nil
            } catch {
                return RequestError.status(of: error).code
            }
        }
        #expect(code([ItemContent(itemID: 0)]) == .invalidArgument)
        #expect(code([ItemContent(itemID: 7), ItemContent(itemID: 7)]) == .invalidArgument)
        #expect(code([ItemContent(itemID: 7, textTokens: [99])]) == .invalidArgument)
        #expect(code([ItemContent(itemID: 7, contentVector: [1])]) == .invalidArgument)
        #expect(code(Array(repeating: ItemContent(itemID: 7), count: 10_001)) == .resourceExhausted)
        #expect(model.catalogue?.current.isEmpty == true)
        let plain = ServedModel(name: "p", version: "1", bundle: try SyntheticBundle().load(), origin: .fixed)
        #expect(throws: RequestError.self) { try live.upsert(UpsertItemsRequest(items: [ItemContent(itemID: 7)]), model: plain) }
    }

    @Test func attachingCreatesNoJournal() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-state-\(UUID().uuidString)").path
        let live = LiveCatalogues(stateDirectory: dir, logger: Logger(label: "test"))
        let model = ServedModel(name: "m", version: "1", bundle: try SyntheticBundle().load(), origin: .fixed)
        try live.attach(model)
        #expect(!FileManager.default.fileExists(atPath: dir))
        _ = try live.setAvailable(SetItemsAvailableRequest(itemIDs: [114], available: false), model: model)
        #expect(try CatalogueJournal(path: dir + "/m/catalogue.journal").records.count == 1)
    }
}
