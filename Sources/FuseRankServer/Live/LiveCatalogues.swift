import Foundation
import FuseRankModel
import FuseRankWire
import Logging

/// The live catalogue changes of every model (docs/operations.md "Live catalogue changes"): each
/// model's changes, replayed onto every version before it is published, and the admin changes,
/// recorded durably before they apply. Where they are recorded:
/// - without a catalogue log, in each model's local journal (`fsync`'d);
/// - with one (`--catalogue-log`, docs/deploy.md "Replicas that share a catalogue"), in the
///   model's Redis stream, which every replica applies in the same order: an admin change is
///   appended there and applied here with everything before it, and the others' changes arrive
///   from ``CatalogueLogReader`` (``applyLogged(_:_:caughtUp:served:)``).
///
/// Used on the loader thread only, so a change and a reload never interleave.
// @unchecked Sendable: used on the loader thread only (closures that other threads hand to the
// loader receive it as a parameter there).
final class LiveCatalogues: @unchecked Sendable {
    /// The most items one `UpsertItems` call may carry.
    static let maxItemsPerCall = 10_000

    private let stateDirectory: String?
    /// The shared log; nil: local journals.
    let log: CatalogueLog?
    private let logger: Logger
    private var journals: [String: CatalogueJournal] = [:]
    /// With a catalogue log: each model's changes read from its stream so far, oldest first.
    private var logged: [String: [LoggedChange]] = [:]
    /// Told of every overlay made current (metrics).
    private let published: @Sendable (ServedModel, CatalogueOverlay) -> Void

    init(stateDirectory: String?, log: CatalogueLog? = nil, logger: Logger,
         published: @escaping @Sendable (ServedModel, CatalogueOverlay) -> Void = { _, _ in }) {
        self.stateDirectory = stateDirectory
        self.log = log
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
        if let log {
            // The changes read so far, and the rest of the stream when Redis answers (else the
            // reader brings them, and Health is not ready until it has).
            log.positions.register(model.name)
            catchUp(model.name, served: nil)
            var overlay = CatalogueOverlay(bundle: bundle)
            for change in logged[model.name] ?? [] { _ = replay(change.record, onto: &overlay, model: model, source: log.key(model.name)) }
            publish(overlay, to: model)
            if let count = logged[model.name]?.count, count > 0 {
                logger.info("model \"\(model.name)\" version \(model.version): \(count) catalogue change(s) applied from \(log.key(model.name)): \(overlay.contentIDs.count) content item(s), \(overlay.hidden.count) hidden")
            }
            return
        }
        // No journal yet: nothing to replay, and nothing is created until the first change (a
        // read-only repository serves as before).
        guard let path = journalPath(model), journals[model.name]?.path == path || FileManager.default.fileExists(atPath: path),
              let journal = try journal(model)
        else { return }
        var overlay = CatalogueOverlay(bundle: bundle)
        var kept: [JournalRecord] = []
        var dropped = 0
        for record in journal.records {
            let (left, n) = replay(record, onto: &overlay, model: model, source: journal.path)
            dropped += n
            if let left { kept.append(left) }
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
        catchUp(model.name, served: model)  // with a catalogue log: check against the latest catalogue
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
        let sequence = try record(JournalRecord(version: model.version, change: .upsert(request)), model: model, applied: overlay)
        return UpsertItemsReply(added: UInt32(request.items.count - replaced), replaced: UInt32(replaced), journalSequence: sequence)
    }

    /// `SetItemsAvailable` on the served version `model`: all or nothing, journalled, then applied.
    /// - Throws: ``RequestError`` NOT_FOUND naming the first unknown id.
    func setAvailable(_ request: SetItemsAvailableRequest, model: ServedModel) throws -> SetItemsAvailableReply {
        guard request.itemIDs.count <= Self.maxItemsPerCall * 10 else {
            throw RequestError(code: .resourceExhausted, message: "\(request.itemIDs.count) ids in one call; at most \(Self.maxItemsPerCall * 10)")
        }
        catchUp(model.name, served: model)
        var overlay = try model.liveCatalogue().current
        if let unknown = request.itemIDs.first(where: { !overlay.knows($0) }) {
            throw RequestError(code: .notFound, message: "item \(unknown) is not in model \"\(model.name)\"'s catalogue; nothing changed")
        }
        overlay.setAvailable(request.itemIDs, request.available)
        let sequence = try record(JournalRecord(version: model.version, change: .availability(request)), model: model, applied: overlay)
        return SetItemsAvailableReply(journalSequence: sequence)
    }

    /// Records an admin change durably, then makes it current.
    /// - Without a catalogue log: appended to the model's journal (`fsync`'d), then `applied` (the
    ///   current overlay with the change) is published.
    /// - With one: appended to the model's stream, then the stream is applied up to and including
    ///   it, in its order (changes other replicas made meanwhile first).
    /// - Returns: the change's position in the journal or the stream (1-based); 0 when Redis took it
    ///   but could not be read back at once (the reader applies it).
    /// - Throws: ``RequestError`` UNAVAILABLE when Redis does not take the change; the local
    ///   journal's errors.
    private func record(_ record: JournalRecord, model: ServedModel, applied: CatalogueOverlay) throws -> UInt64 {
        guard let log else {
            let sequence = try journalOrRefuse(model).append(record)
            publish(applied, to: model)
            return sequence
        }
        let id: StreamID
        do {
            id = try log.append(record, model: model.name)
        } catch {
            throw RequestError(code: .unavailable, message: "the catalogue log \(log.address) did not take the change, nothing changed: \(error)")
        }
        catchUp(model.name, served: model)
        guard let changes = logged[model.name], let index = changes.lastIndex(where: { $0.id == id }) else { return 0 }
        return UInt64(index + 1)
    }

    /// Reads the rest of the model's stream (loader thread) and applies it; a failure is logged and
    /// left to the reader.
    /// - Parameter served: the version to apply the changes to; nil while it is being attached.
    private func catchUp(_ name: String, served: ServedModel?) {
        guard let log else { return }
        do {
            while true {
                let changes = try log.read(model: name, after: logged[name]?.last?.id)
                let atEnd = changes.count < CatalogueLog.batch
                applyLogged(name, changes, caughtUp: atEnd, served: served)
                if atEnd { return }
            }
        } catch {
            logger.warning("catalogue log \(log.address): cannot read \(log.key(name)) now (\(error)); the reader will apply it")
        }
    }

    /// Applies changes read from a model's stream, in order: those already applied are skipped, the
    /// rest are kept (for later versions) and applied to `served`'s current overlay.
    /// - Parameters:
    ///   - name: the model.
    ///   - changes: consecutive entries of its stream, oldest first.
    ///   - caughtUp: they reach the end of the stream (the model counts as caught up).
    ///   - served: the version served now; nil when none (its changes are kept for it).
    func applyLogged(_ name: String, _ changes: [LoggedChange], caughtUp: Bool, served: ServedModel?) {
        guard let log else { return }
        var all = logged[name] ?? []
        let last = all.last?.id
        let fresh = last.map { last in changes.filter { $0.id > last } } ?? changes
        all += fresh
        logged[name] = all
        log.positions.setApplied(name, count: all.count, lastID: all.last?.id)
        if caughtUp { log.positions.setCaughtUp(name) }
        guard !fresh.isEmpty, let served, let catalogue = served.catalogue else { return }
        var overlay = catalogue.current
        for change in fresh { _ = replay(change.record, onto: &overlay, model: served, source: log.key(name)) }
        publish(overlay, to: served)
    }

    /// Applies one recorded change to an overlay of `model`. An upsert recorded on another version
    /// leaves out the ids that version's bundle has (the new model learned them); an availability
    /// change applies to the ids the overlay knows.
    /// - Returns: the record as it is still worth keeping (nil when nothing of it is left), and
    ///   how many upserted items it lost.
    private func replay(_ record: JournalRecord, onto overlay: inout CatalogueOverlay, model: ServedModel,
                        source: String) -> (kept: JournalRecord?, dropped: Int) {
        var record = record
        var dropped = 0
        switch record.change {
        case var .upsert(request):
            if record.version != model.version {
                let before = request.items.count
                request.items.removeAll { overlay.bundle.row(ofItem: $0.itemID) != nil }
                dropped = before - request.items.count
                if request.items.isEmpty { return (nil, dropped) }
                record.change = .upsert(request)
            }
            do {
                try Self.apply(request, to: &overlay)
            } catch {
                logger.error("\(source): an upsert does not apply to model \"\(model.name)\" version \(model.version), skipped: \(error)")
            }
        case let .availability(request):
            overlay.setAvailable(request.itemIDs.filter(overlay.knows), request.available)
        }
        return (record, dropped)
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
