import Foundation
import FuseRankRedis
import FuseRankWire
import Logging

/// A Redis stream entry id, `<ms>-<seq>`, in the stream's order.
struct StreamID: Comparable, Hashable, Sendable, CustomStringConvertible {
    let ms: UInt64
    let seq: UInt64

    /// The id before every entry (`XREAD ... 0-0` reads a stream from its start).
    static let start = StreamID(ms: 0, seq: 0)

    init(ms: UInt64, seq: UInt64) {
        self.ms = ms
        self.seq = seq
    }

    /// Parses `<ms>-<seq>`; nil for anything else.
    init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let ms = UInt64(parts[0]), let seq = UInt64(parts[1]) else { return nil }
        self.init(ms: ms, seq: seq)
    }

    var description: String { "\(ms)-\(seq)" }

    static func < (a: StreamID, b: StreamID) -> Bool { (a.ms, a.seq) < (b.ms, b.seq) }
}

/// One catalogue change as the log holds it: its stream id and the change.
struct LoggedChange: Sendable, Equatable {
    let id: StreamID
    let record: JournalRecord
}

/// The shared catalogue log (docs/deploy.md "Replicas that share a catalogue"): each model's live
/// catalogue changes, in one order for every replica, in a Redis stream
/// `<prefix>:catalogue:<model>`. An entry has two fields: `kind` (`upsert` or `availability`, for
/// people reading the stream) and `record`, the change as the local journal frames it
/// (``JournalRecord/payload()``: the request bytes and the model version it was made on).
///
/// The loader thread appends (XADD) and reads ranges (XRANGE) on its own connection, made when
/// first needed and again after it breaks; ``CatalogueLogReader`` follows the streams on another.
// @unchecked Sendable: `connection` and `checkedDurability` are used by the loader thread only;
// the rest is immutable, and `positions` locks itself.
final class CatalogueLog: @unchecked Sendable {
    /// Where Redis is, and the key prefix.
    let address: RedisAddress
    /// Each model's position in its stream, for Health, the metrics and the reader.
    let positions = CatalogueLogPositions()
    /// A connect or a command on the loader's connection gives up after this long (an admin call
    /// then gets UNAVAILABLE).
    static let timeoutMs = 1000
    /// Entries read per XRANGE or XREAD.
    static let batch = 1000

    private let logger: Logger
    private var connection: RedisConnection?
    private var checkedDurability = false

    init(address: RedisAddress, logger: Logger) {
        self.address = address
        self.logger = logger
    }

    /// The model's stream key.
    func key(_ model: String) -> String { "\(address.prefix):catalogue:\(model)" }

    /// Appends a change to the model's stream (loader thread). Once it returns, Redis holds the
    /// change (durably when Redis runs with `appendfsync always`).
    /// - Returns: the entry's id.
    /// - Throws: ``RedisError``.
    func append(_ record: JournalRecord, model: String) throws(RedisError) -> StreamID {
        let kind: String = switch record.change {
        case .upsert: "upsert"
        case .availability: "availability"
        }
        let reply = try withConnection { (redis: RedisConnection) throws(RedisError) in
            try redis.command([Array("XADD".utf8), Array(key(model).utf8), Array("*".utf8),
                            Array("kind".utf8), Array(kind.utf8), Array("record".utf8), record.payload()])
        }
        guard let text = reply.text, let id = StreamID(text) else { throw .unexpectedReply("XADD answered \(reply)") }
        return id
    }

    /// Up to ``batch`` changes of the model's stream after `after` (from its start when nil), oldest
    /// first (loader thread).
    /// - Throws: ``RedisError``.
    func read(model: String, after: StreamID?) throws(RedisError) -> [LoggedChange] {
        let reply = try withConnection { (redis: RedisConnection) throws(RedisError) in
            try redis.command(["XRANGE", key(model), after.map { "(\($0)" } ?? "-", "+", "COUNT", "\(Self.batch)"])
        }
        return try Self.changes(reply)
    }

    /// The changes of an XRANGE reply, or of one stream's part of an XREAD reply.
    /// - Throws: ``RedisError/unexpectedReply(_:)`` for an entry that is not a change.
    static func changes(_ reply: RedisValue) throws(RedisError) -> [LoggedChange] {
        guard case let .array(entries) = reply else { throw .unexpectedReply("a stream range that is not an array") }
        var changes: [LoggedChange] = []
        changes.reserveCapacity(entries.count)
        for entry in entries {
            guard case let .array(parts) = entry, parts.count == 2, let text = parts[0].text, let id = StreamID(text),
                  case let .array(fields) = parts[1]
            else { throw .unexpectedReply("a stream entry that is not [id, fields]") }
            var payload: [UInt8]?
            for i in stride(from: 0, to: fields.count - 1, by: 2) where fields[i].text == "record" {
                if case let .string(bytes) = fields[i + 1] { payload = bytes }
            }
            guard let payload, let record = JournalRecord(payload: payload) else {
                throw .unexpectedReply("stream entry \(id) has no catalogue change in its record field")
            }
            changes.append(LoggedChange(id: id, record: record))
        }
        return changes
    }

    /// Runs `body` on the loader's connection, connecting first when there is none; a broken
    /// connection is dropped, so the next call connects again.
    private func withConnection(_ body: (RedisConnection) throws(RedisError) -> RedisValue) throws(RedisError) -> RedisValue {
        let redis: RedisConnection
        if let connection, !connection.isBroken {
            redis = connection
        } else {
            connection = nil
            redis = try RedisConnection(address, timeoutMs: Self.timeoutMs)
            connection = redis
            if !checkedDurability {
                checkedDurability = true
                warnUnlessDurable(redis)
            }
        }
        do {
            return try body(redis)
        } catch {
            if redis.isBroken { connection = nil }
            throw error
        }
    }

    /// Logs a warning when Redis would lose acknowledged changes in a crash (no AOF, or AOF not
    /// `fsync`'d on every write). Servers that forbid CONFIG are not checked.
    private func warnUnlessDurable(_ redis: RedisConnection) {
        func setting(_ name: String) -> String? {
            guard case let .array(pair)? = try? redis.command(["CONFIG", "GET", name]), pair.count == 2 else { return nil }
            return pair[1].text
        }
        let aof = setting("appendonly"), fsync = setting("appendfsync")
        if let aof, let fsync, aof != "yes" || fsync != "always" {
            logger.warning("catalogue log \(address): Redis runs with appendonly \(aof), appendfsync \(fsync); an acknowledged change can be lost if Redis crashes (docs/deploy.md asks for appendonly yes, appendfsync always)")
        }
    }
}

/// Where each model stands in the catalogue log, shared by the loader thread (what it applied),
/// the reader thread (what Redis has, whether it is reachable) and the front thread (Health).
// @unchecked Sendable: every field is read and written holding `lock`.
final class CatalogueLogPositions: @unchecked Sendable {
    private struct Model {
        var applied: UInt64 = 0
        var lastID: StreamID?
        var length: UInt64 = 0
        var caughtUp = false
    }

    private let lock = NSLock()
    private var models: [String: Model] = [:]
    private var order: [String] = []
    private var connected = false
    private var lastContact: ContinuousClock.Instant?

    /// Starts following a model (idempotent).
    func register(_ model: String) {
        lock.withLock {
            if models[model] == nil {
                models[model] = Model()
                order.append(model)
            }
        }
    }

    /// The models followed, with the id of the last change applied to each.
    var followed: [(model: String, lastID: StreamID?)] {
        lock.withLock { order.map { ($0, models[$0]?.lastID) } }
    }

    /// Records what the loader has applied of a model's stream.
    func setApplied(_ model: String, count: Int, lastID: StreamID?) {
        lock.withLock {
            models[model]?.applied = UInt64(count)
            models[model]?.lastID = lastID
            if let m = models[model], m.length < m.applied { models[model]?.length = m.applied }
        }
    }

    /// Marks a model as read to the end of its stream (for readiness).
    func setCaughtUp(_ model: String) { lock.withLock { models[model]?.caughtUp = true } }

    /// The reader heard from Redis: the streams' lengths now.
    func heard(lengths: [String: UInt64]) {
        lock.withLock {
            connected = true
            lastContact = .now
            for (model, length) in lengths { models[model]?.length = length }
        }
    }

    /// The reader lost Redis: no model is known to be caught up until it has read again.
    func lost() {
        lock.withLock {
            connected = false
            for model in order { models[model]?.caughtUp = false }
        }
    }

    /// True when every model followed has been read to the end since the last loss of Redis.
    var allCaughtUp: Bool { lock.withLock { models.values.allSatisfy(\.caughtUp) } }

    /// Every model's position, for Health and the metrics.
    func snapshot() -> [CatalogueLogPosition] {
        lock.withLock {
            let since = lastContact.map { ContinuousClock.now - $0 }
            let ms = since.map { UInt64(max(0, $0.components.seconds)) * 1000 + UInt64($0.components.attoseconds / 1_000_000_000_000_000) } ?? 0
            return order.compactMap { name in
                models[name].map {
                    CatalogueLogPosition(model: name, applied: $0.applied, length: $0.length, lastID: $0.lastID?.description ?? "",
                                         connected: connected, msSinceContact: ms, caughtUp: $0.caughtUp)
                }
            }
        }
    }
}
