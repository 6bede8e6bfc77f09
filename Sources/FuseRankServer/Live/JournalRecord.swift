import FuseRankWire

/// One change of a model's live catalogue, as its journal keeps it (docs/operations.md
/// "Live catalogue changes"): the admin request as received, and the model version it applied to.
struct JournalRecord: Sendable, Equatable {
    /// What changed.
    enum Change: Sendable, Equatable {
        case upsert(UpsertItemsRequest)
        case availability(SetItemsAvailableRequest)
    }

    /// The served version the change was made on (a replay on another version drops the upserts
    /// of ids that version's bundle already has).
    var version: String
    var change: Change

    /// The record payload: `[kind u8: 1 upsert, 2 availability][version length u16 LE][version UTF-8][request bytes]`.
    func payload() -> [UInt8] {
        let kind: UInt8
        let request: [UInt8]
        switch change {
        case let .upsert(r): kind = 1; request = r.encode()
        case let .availability(r): kind = 2; request = r.encode()
        }
        let v = Array(version.utf8.prefix(Int(UInt16.max)))
        return [kind, UInt8(v.count & 0xFF), UInt8(v.count >> 8)] + v + request
    }

    /// Decodes a payload.
    /// - Returns: nil when the payload is not a record (a bug or a corrupt file: its CRC matched).
    init?(payload p: [UInt8]) {
        guard p.count >= 3 else { return nil }
        let n = Int(p[1]) | Int(p[2]) << 8
        guard p.count >= 3 + n else { return nil }
        version = String(decoding: p[3..<(3 + n)], as: UTF8.self)
        let request = Array(p[(3 + n)...])
        switch p[0] {
        case 1:
            guard let r = try? UpsertItemsRequest(bytes: request) else { return nil }
            change = .upsert(r)
        case 2:
            guard let r = try? SetItemsAvailableRequest(bytes: request) else { return nil }
            change = .availability(r)
        default:
            return nil
        }
    }

    init(version: String, change: Change) {
        self.version = version
        self.change = change
    }
}
