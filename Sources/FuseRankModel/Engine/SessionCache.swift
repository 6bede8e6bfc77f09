import Foundation

/// The per-session prefix cache: for each (model, session) the keys and values every layer
/// computed for the session's behaviour tokens, so that a request that only appends events
/// computes the new events and the read-out, O(L * d) per new event instead of a full pass.
///
/// Exact by causality: a behaviour token attends only to itself and earlier behaviour tokens, so
/// its keys and values at every layer do not depend on anything that comes later. Bounded by
/// bytes, least recently used evicted; shared by every ranker of a server (thread-safe).
// @unchecked Sendable: every stored property is read and written only while `lock` is held;
// entries are immutable.
public final class SessionCache: @unchecked Sendable {
    /// One session's cached behaviour-token states: the first `events.count` rows of `states`.
    final class Entry: Sendable {
        /// The events the states belong to, oldest first (every one kept: no truncation).
        let events: [BehaviourEvent]
        /// Their keys and values at every layer (rows `0 ..< events.count`).
        let states: SessionStates
        /// The newest event token's residual stream at the input of the last layer (d_model,),
        /// for the newest-event read-out (format_version 2); empty when the model has none.
        let newestState: [Float]

        init(events: [BehaviourEvent], states: SessionStates, newestState: [Float]) {
            self.events = events
            self.states = states
            self.newestState = newestState
        }

        var bytes: Int { states.bytes + (newestState.count + 2 * events.count * 3) * 8 + 128 }

        /// Whether `events` are these events plus zero or more new ones at the end.
        func isPrefix(of events: [BehaviourEvent]) -> Bool {
            events.count >= self.events.count && events[..<self.events.count].elementsEqual(self.events)
        }
    }

    /// Counters since start.
    public struct Statistics: Sendable, Equatable {
        /// Requests with a session id whose cached events they extended.
        public var hits = 0
        /// Requests with a session id that found nothing usable (a full pass).
        public var misses = 0
        /// Sessions dropped to stay within the byte budget.
        public var evictions = 0
        /// Sessions held now, and their bytes.
        public var sessions = 0
        public var bytes = 0
    }

    /// The byte budget.
    public let capacityBytes: Int
    private let lock = NSLock()
    private var entries: [String: (entry: Entry, used: UInt64)] = [:]
    private var clock: UInt64 = 0
    private var stats = Statistics()

    /// An empty cache holding at most `capacityBytes` of states.
    public init(capacityBytes: Int) { self.capacityBytes = max(0, capacityBytes) }

    /// The counters now.
    public var statistics: Statistics {
        lock.lock()
        defer { lock.unlock() }
        return stats
    }

    private static func key(_ bundle: ModelBundle, _ session: String) -> String { "\(bundle.loadID)/\(session)" }

    /// Counts a request whose session could not use the cache at all (e.g. more events than the
    /// model keeps: the window slides, every position moves).
    func recordMiss() {
        lock.lock()
        stats.misses += 1
        lock.unlock()
    }

    /// The entry of `session` for `bundle` if `events` extend its events; counts a hit or a miss.
    func lookup(bundle: ModelBundle, session: String, events: [BehaviourEvent]) -> Entry? {
        lock.lock()
        defer { lock.unlock() }
        let key = Self.key(bundle, session)
        guard let found = entries[key], found.entry.isPrefix(of: events) else {
            stats.misses += 1
            return nil
        }
        clock += 1
        entries[key] = (found.entry, clock)
        stats.hits += 1
        return found.entry
    }

    /// Stores (or replaces) the entry of `session` for `bundle`, evicting the least recently used
    /// sessions beyond the budget. An entry larger than the whole budget is not kept.
    func store(_ entry: Entry, bundle: ModelBundle, session: String) {
        lock.lock()
        defer { lock.unlock() }
        let key = Self.key(bundle, session)
        if let old = entries.removeValue(forKey: key) { stats.bytes -= old.entry.bytes }
        guard entry.bytes <= capacityBytes else {
            stats.sessions = entries.count
            return
        }
        clock += 1
        entries[key] = (entry, clock)
        stats.bytes += entry.bytes
        while stats.bytes > capacityBytes, let oldest = entries.min(by: { $0.value.used < $1.value.used }) {
            entries.removeValue(forKey: oldest.key)
            stats.bytes -= oldest.value.entry.bytes
            stats.evictions += 1
        }
        stats.sessions = entries.count
    }
}

/// The keys and values of one session's behaviour tokens at every layer, append-only: a row is
/// written once and never changes, so cache entries of different lengths share one buffer and a
/// request that extends the newest entry appends in place (its readers read only earlier rows).
// @unchecked Sendable: rows below `claimed` are never written again; rows are claimed under `lock`
// by one writer at a time; the buffers are freed in deinit, when no entry holds them.
final class SessionStates: @unchecked Sendable {
    let layers: Int, dimension: Int, capacity: Int
    private let keyRows: UnsafeMutablePointer<Float>    // (layers, capacity, d)
    private let valueRows: UnsafeMutablePointer<Float>  // (layers, capacity, d)
    private let lock = NSLock()
    private var claimed = 0

    /// Room for `capacity` rows of `dimension` at each of `layers` layers.
    init(layers: Int, dimension: Int, capacity: Int) {
        self.layers = layers
        self.dimension = dimension
        self.capacity = capacity
        let n = max(1, layers * capacity * dimension)
        keyRows = .allocate(capacity: n)
        valueRows = .allocate(capacity: n)
    }

    deinit {
        keyRows.deallocate()
        valueRows.deallocate()
    }

    var bytes: Int { 2 * layers * capacity * dimension * MemoryLayout<Float>.size }

    /// Layer `l`'s keys (capacity, d) and values.
    func keys(_ l: Int) -> UnsafeMutablePointer<Float> { keyRows + l * capacity * dimension }
    func values(_ l: Int) -> UnsafeMutablePointer<Float> { valueRows + l * capacity * dimension }

    /// Claims rows `rows ..< rows + adding` for one writer: true when no row from `rows` on was
    /// claimed before (this entry is the newest of its buffer) and they fit.
    func claim(from rows: Int, adding: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard claimed == rows, rows + adding <= capacity else { return false }
        claimed = rows + adding
        return true
    }

    /// A new buffer holding a copy of this one's first `rows` rows, with those rows claimed.
    func copy(rows: Int) -> SessionStates {
        let copy = SessionStates(layers: layers, dimension: dimension, capacity: capacity)
        for l in 0..<layers {
            copy.keys(l).update(from: keys(l), count: rows * dimension)
            copy.values(l).update(from: values(l), count: rows * dimension)
        }
        copy.claimed = rows
        return copy
    }
}
