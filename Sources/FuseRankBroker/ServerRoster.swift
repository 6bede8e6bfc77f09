/// The servers the broker routes calls to, and the choice of server for each call.
///
/// A server joins when its `server-ready` message arrives on the backend (it repeats it every
/// second while it serves: docs/wire.md), and leaves when it says it is draining, when a call to
/// it finds no connection (`EHOSTUNREACH`), or after ``silenceLimit`` without a word from it.
///
/// A Rank call with a `session_id` goes to the server that rendezvous hashing picks for the
/// session (the highest `hash(session, server)`), so a session's calls meet its cached prefix on
/// one replica; when that server leaves only its sessions move. Every other call goes to the
/// servers in turn.
struct ServerRoster {
    /// A server's ROUTER routing id on the backend.
    typealias ServerID = [UInt8]

    /// Servers that announced themselves, in the order they joined, with when they were last heard.
    private(set) var servers: [(id: ServerID, heard: ContinuousClock.Instant)] = []
    private var next = 0

    /// Forgotten after this long without a word.
    let silenceLimit: Duration

    init(silenceLimit: Duration) {
        self.silenceLimit = silenceLimit
    }

    var count: Int { servers.count }

    /// A server said it serves (or answered a call).
    /// - Returns: true when it is new.
    @discardableResult
    mutating func heard(_ id: ServerID, at now: ContinuousClock.Instant) -> Bool {
        if let i = servers.firstIndex(where: { $0.id == id }) {
            servers[i].heard = now
            return false
        }
        servers.append((id, now))
        return true
    }

    /// A known server answered a call: it is alive (a server that left is not taken back).
    mutating func refresh(_ id: ServerID, at now: ContinuousClock.Instant) {
        if let i = servers.firstIndex(where: { $0.id == id }) { servers[i].heard = now }
    }

    /// Forgets a server. - Returns: true when it was known.
    @discardableResult
    mutating func remove(_ id: ServerID) -> Bool {
        guard let i = servers.firstIndex(where: { $0.id == id }) else { return false }
        servers.remove(at: i)
        if next > i { next -= 1 }
        return true
    }

    /// Forgets servers silent for longer than ``silenceLimit``. - Returns: their ids.
    mutating func expire(at now: ContinuousClock.Instant) -> [ServerID] {
        let silent = servers.filter { now - $0.heard > silenceLimit }.map(\.id)
        for id in silent { remove(id) }
        return silent
    }

    /// The server for a call: the session's by rendezvous hashing, else the next in turn; nil
    /// when no server is known.
    mutating func pick(session: String?) -> ServerID? {
        guard !servers.isEmpty else { return nil }
        if let session, !session.isEmpty {
            let key = Array(session.utf8)
            return servers.max { Self.score(key, $0.id) < Self.score(key, $1.id) }?.id
        }
        next %= servers.count
        defer { next += 1 }
        return servers[next].id
    }

    /// FNV-1a over the session and the server id, then a 64-bit finaliser (SplitMix64's), so
    /// similar ids spread evenly.
    static func score(_ session: [UInt8], _ server: ServerID) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in session + [0] + server {
            h ^= UInt64(byte)
            h = h &* 0x100_0000_01B3
        }
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }
}
