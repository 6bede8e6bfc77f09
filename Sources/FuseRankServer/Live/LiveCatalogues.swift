import Foundation
import FuseRankModel
import FuseRankWire
import Logging

/// The live catalogue changes of every model (docs/operations.md "Live catalogue changes"): each
/// model's journal, replayed onto every version before it is published, and the admin changes,
/// journalled (`fsync`) before they apply. Used on the loader thread only, so a change and a
/// reload never interleave.
// @unchecked Sendable: used on the loader thread only (closures that other threads hand to the
// loader receive it as a parameter there).
final class LiveCatalogues: @unchecked Sendable {
    /// The most items one `UpsertItems` call may carry.
    static let maxItemsPerCall = 10_000

    private let stateDirectory: String?
    private let logger: Logger
    private var journals: [String: CatalogueJournal] = [:]
    /// Told of every overlay made current (metrics).
    private let published: @Sendable (ServedModel, CatalogueOverlay) -> Void

    init(stateDirectory: String?, logger: Logger, published: @escaping @Sendable (ServedModel, CatalogueOverlay) -> Void = { _, _ in }) {
        self.stateDirectory = stateDirectory
        self.logger = logger
        self.published = published
    }

    /// Makes `overlay` the model's current one.
    private func publish(_ overlay: CatalogueOverlay, to model: ServedModel) {
        model.catalogue?.publish(overlay)
        published(model, overlay)
    }

    /// Where a model's journal lives: `<state-dir>/<model>/catalogue.journal` with `--state-dir`,
    /// else `<repository>/<model>/catalogue.journal`; nil for a `--model` bundle without `--state-dir`.
    func journalPath(_ model: ServedModel) -> String? {
        if let stateDirectory { return "\(stateDirectory)/\(model.name)/catalogue.journal" }
        if case let .repository(directory) = model.origin { return "\(directory)/\(model.name)/catalogue.journal" }
        return nil
    }

    private func journal(_ model: ServedModel) throws -> CatalogueJournal? {
        guard let path = journalPath(model) else { return nil }
        if let open = journals[model.name], open.path == path { return open }
        let journal = try CatalogueJournal(path: path)
        if journal.tornBytes > 0 {
            logger.warning("\(path): dropped a torn last record (\(journal.tornBytes) bytes, a crash while writing it); it was never acknowledged")
        }
        journals[model.name] = journal
        return journal
    }

    /// Replays the model's journal onto its (not yet published) version. Upserts recorded on
    /// another version of ids this version's bundle has are dropped (the new model learned them),
    /// and the journal is then rewritten without them; availability changes are kept. A
    /// forecaster-only version has no catalogue: nothing to replay.
    /// - Throws: ``JournalError`` for a journal that cannot be read (a corrupt record).
    func attach(_ model: ServedModel) throws {
        guard let bundle = model.bundle else { return }
        // No journal yet: nothing to replay, and nothing is created until the first change (a
        // read-only repository serves as before).
        guard let path = journalPath(model), journals[model.name]?.path == path || FileManager.default.fileExists(atPath: path),
              let journal = try journal(model)
        else { return }
        var overlay = CatalogueOverlay(bundle: bundle)
        var kept: [JournalRecord] = []
        var dropped = 0
        for var record in journal.records {
            switch record.change {
            case var .upsert(request):
                if record.version != model.version {
                    let before = request.items.count
                    request.items.removeAll { bundle.row(ofItem: $0.itemID) != nil }
                    dropped += before - request.items.count
                    if request.items.isEmpty { continue }
                    record.change = .upsert(request)
                }
                do {
                    try Self.apply(request, to: &overlay)
                } catch {
                    logger.error("\(journal.path): an upsert does not apply to model \"\(model.name)\" version \(model.version), skipped: \(error)")
                }
            case let .availability(request):
                overlay.setAvailable(request.itemIDs.filter(overlay.knows), request.available)
            }
            kept.append(record)
        }
        if dropped > 0 {
            try journal.rewrite(kept)
            logger.info("\(journal.path): version \(model.version) has \(dropped) upserted item(s) in its catalogue; their journal entries are dropped")
        }
        publish(overlay, to: model)
        if !journal.records.isEmpty {
            logger.info("model \"\(model.name)\" version \(model.version): \(journal.records.count) catalogue change(s) replayed: \(overlay.contentIDs.count) content item(s), \(overlay.hidden.count) hidden")
        }
    }

    /// `UpsertItems` on the served version `model`: validated, journalled, then applied.
    /// - Throws: ``RequestError`` (or ``ContentError``) for a call that changes nothing.
    func upsert(_ request: UpsertItemsRequest, model: ServedModel) throws -> UpsertItemsReply {
        guard try model.recommender().hasContentProjection else {
            throw RequestError(code: .failedPrecondition, message: ContentError.noProjection(model: model.name).description)
        }
        guard request.items.count <= Self.maxItemsPerCall else {
            throw RequestError(code: .resourceExhausted,
                               message: "\(request.items.count) items in one call; at most \(Self.maxItemsPerCall)")
        }
        guard !request.items.isEmpty else { throw RequestError.invalidArgument("no items to upsert") }
        var seen = Set<Int64>()
        for (i, item) in request.items.enumerated() {
            guard item.itemID > 0 else { throw RequestError.invalidArgument("items[\(i)].item_id is \(item.itemID); item ids must be > 0") }
            guard seen.insert(item.itemID).inserted else {
                throw RequestError.invalidArgument("items[\(i)].item_id \(item.itemID) appears twice in the call")
            }
        }
        var overlay = try model.liveCatalogue().current
        let replaced = request.items.filter { overlay.knows($0.itemID) }.count
        do {
            try Self.apply(request, to: &overlay)  // every row computed before anything is written
        } catch let error as IndexedContentError {
            throw RequestError.invalidArgument("items[\(error.index)]: \(error.error)")
        }
        let sequence = try journalOrRefuse(model).append(JournalRecord(version: model.version, change: .upsert(request)))
        publish(overlay, to: model)
        return UpsertItemsReply(added: UInt32(request.items.count - replaced), replaced: UInt32(replaced), journalSequence: sequence)
    }

    /// `SetItemsAvailable` on the served version `model`: all or nothing, journalled, then applied.
    /// - Throws: ``RequestError`` NOT_FOUND naming the first unknown id.
    func setAvailable(_ request: SetItemsAvailableRequest, model: ServedModel) throws -> SetItemsAvailableReply {
        guard request.itemIDs.count <= Self.maxItemsPerCall * 10 else {
            throw RequestError(code: .resourceExhausted, message: "\(request.itemIDs.count) ids in one call; at most \(Self.maxItemsPerCall * 10)")
        }
        var overlay = try model.liveCatalogue().current
        if let unknown = request.itemIDs.first(where: { !overlay.knows($0) }) {
            throw RequestError(code: .notFound, message: "item \(unknown) is not in model \"\(model.name)\"'s catalogue; nothing changed")
        }
        let sequence = try journalOrRefuse(model).append(JournalRecord(version: model.version, change: .availability(request)))
        overlay.setAvailable(request.itemIDs, request.available)
        publish(overlay, to: model)
        return SetItemsAvailableReply(journalSequence: sequence)
    }

    private func journalOrRefuse(_ model: ServedModel) throws -> CatalogueJournal {
        guard let journal = try journal(model) else {
            throw RequestError(code: .failedPrecondition,
                               message: "model \"\(model.name)\" is a --model bundle and the server has no --state-dir for its catalogue journal")
        }
        return journal
    }

    /// Content rows of every item of `request` into `overlay`.
    /// - Throws: ``IndexedContentError`` for the first item whose content does not project.
    static func apply(_ request: UpsertItemsRequest, to overlay: inout CatalogueOverlay) throws {
        let bundle = overlay.bundle
        var rows: [(embedding: [Float], bias: Float)] = []
        rows.reserveCapacity(request.items.count)
        for (i, item) in request.items.enumerated() {
            do {
                rows.append(try bundle.contentRow(textTokens: item.textTokens, vector: item.contentVector))
            } catch let error as ContentError {
                throw IndexedContentError(index: i, error: error)
            }
        }
        for (item, row) in zip(request.items, rows) {
            let info = item.title.isEmpty && item.category.isEmpty && item.externalID.isEmpty
                ? nil : ItemInfo(title: item.title, category: item.category, externalID: item.externalID)
            overlay.setContent(item.itemID, row: row, info: info)
        }
    }
}

/// A ``ContentError`` of one item of an `UpsertItems` call.
struct IndexedContentError: Error, CustomStringConvertible {
    let index: Int
    let error: ContentError
    var description: String { "items[\(index)]: \(error)" }
}
