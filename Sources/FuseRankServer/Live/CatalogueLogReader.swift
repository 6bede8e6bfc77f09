import Foundation
import FuseRankRedis
import Logging

/// The thread that follows the catalogue log: a blocking XREAD over every followed model's stream
/// on its own Redis connection, handing each batch of changes, in stream order, to the loader
/// thread (``ModelLoader/changeCatalogue(_:)``), which applies them.
///
/// A model's first reads do not block, so the replica learns at once that it has read its stream
/// to the end ("caught up", which Health's `ready` waits for); then XREAD blocks up to
/// ``blockMs`` for the next change. When Redis cannot be reached the reader tries again, waiting
/// 50 ms, then twice as long each time up to 1 s, and every model counts as not caught up until
/// it has read again.
// @unchecked Sendable: `stopping` is read and written holding `condition`; the connection and the
// cursors live in the thread's frame.
final class CatalogueLogReader: @unchecked Sendable {
    /// How long one XREAD waits for a change (a stop is noticed within this).
    static let blockMs = 500

    /// Hands a model's next changes to the loader; `caughtUp`: they reach the end of the stream.
    /// Returns false when the loader takes no more work (stopping).
    typealias Deliver = @Sendable (_ model: String, _ changes: [LoggedChange], _ caughtUp: Bool) -> Bool

    private let log: CatalogueLog
    private let deliver: Deliver
    private let logger: Logger
    private let condition = NSCondition()
    private var stopping = false
    private let done = DispatchSemaphore(value: 0)

    init(log: CatalogueLog, logger: Logger, deliver: @escaping Deliver) {
        self.log = log
        self.deliver = deliver
        var logger = logger
        logger[metadataKey: "thread"] = "catalogue-log"
        self.logger = logger
    }

    /// Starts the thread.
    func start() {
        let thread = Thread { [self] in
            run()
            done.signal()
        }
        thread.name = "fuserank-catalogue-log"
        thread.start()
    }

    /// Stops the thread; returns once it has ended (within about ``blockMs``).
    func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
        done.wait()
    }

    /// Waits `ms` or until stopped. - Returns: false when stopping.
    private func pause(ms: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: Double(ms) / 1000)) }
        return !stopping
    }

    private var isStopping: Bool { condition.withLock { stopping } }

    private func run() {
        var redis: RedisConnection?
        var cursors: [String: StreamID] = [:]
        var caughtUp: Set<String> = []
        var retryMs = 50
        var outage = false
        while !isStopping {
            let followed = log.positions.followed
            if followed.isEmpty {
                if !pause(ms: 100) { break }
                continue
            }
            for (model, lastID) in followed where cursors[model] == nil { cursors[model] = lastID ?? .start }
            do {
                let connection: RedisConnection
                if let redis, !redis.isBroken {
                    connection = redis
                } else {
                    connection = try RedisConnection(log.address, timeoutMs: Self.blockMs + 2000)
                    redis = connection
                }
                let models = followed.map(\.model)
                var arguments = ["XREAD", "COUNT", "\(CatalogueLog.batch)"]
                if models.allSatisfy(caughtUp.contains) { arguments += ["BLOCK", "\(Self.blockMs)"] }
                arguments += ["STREAMS"] + models.map(log.key) + models.map { cursors[$0]!.description }
                let reply = try connection.command(arguments)
                var lengths: [String: UInt64] = [:]
                for model in models {
                    guard case let .integer(n) = try connection.command(["XLEN", log.key(model)]) else {
                        throw RedisError.unexpectedReply("XLEN did not answer an integer")
                    }
                    lengths[model] = UInt64(max(0, n))
                }
                log.positions.heard(lengths: lengths)
                if outage {
                    logger.notice("catalogue log \(log.address) reachable again; catching up")
                    outage = false
                }
                retryMs = 50
                let read = try streams(reply, models: models)
                for model in models {
                    let changes = read[model] ?? []
                    let atEnd = changes.count < CatalogueLog.batch
                    if let last = changes.last { cursors[model] = last.id }
                    if changes.isEmpty && (!atEnd || caughtUp.contains(model)) { continue }
                    guard deliver(model, changes, atEnd) else { return }
                    if atEnd { caughtUp.insert(model) }
                }
            } catch {
                if redis?.isBroken ?? true {
                    redis = nil
                    caughtUp.removeAll()
                    log.positions.lost()
                }
                if !outage {
                    logger.error("catalogue log \(log.address): \(error); ranking goes on with the changes applied so far, admin calls get UNAVAILABLE; retrying")
                    outage = true
                }
                if !pause(ms: retryMs) { break }
                retryMs = min(1000, retryMs * 2)
            }
        }
    }

    /// An XREAD reply's changes by model (`.null`: none within the block time).
    private func streams(_ reply: RedisValue, models: [String]) throws(RedisError) -> [String: [LoggedChange]] {
        guard case let .array(streams) = reply else { return [:] }
        let byKey = Dictionary(uniqueKeysWithValues: models.map { (log.key($0), $0) })
        var read: [String: [LoggedChange]] = [:]
        for stream in streams {
            guard case let .array(pair) = stream, pair.count == 2, let key = pair[0].text, let model = byKey[key] else {
                throw .unexpectedReply("an XREAD reply that is not [[key, entries], ...]")
            }
            read[model] = try CatalogueLog.changes(pair[1])
        }
        return read
    }
}
