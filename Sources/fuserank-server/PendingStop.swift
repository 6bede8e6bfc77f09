import Foundation
import FuseRankServer

/// Delivers a stop request to the server, also when the signal arrives before the server runs.
// @unchecked Sendable: `server` and `requested` are read and written only while `lock` is held.
final class PendingStop: @unchecked Sendable {
    private let lock = NSLock()
    private var server: RankServer?
    private var requested = false

    /// Stops the attached server, or remembers to stop it once attached.
    func stop() {
        lock.lock()
        requested = true
        let server = self.server
        lock.unlock()
        server?.stop()
    }

    /// Attaches the started server; stops it at once if a stop was already requested.
    func attach(_ server: RankServer) {
        lock.lock()
        self.server = server
        let stopNow = requested
        lock.unlock()
        if stopNow { server.stop() }
    }
}

/// A SIGHUP's rescan: forwarded to the server once it exists; one before that is moot (the start
/// scans anyway).
// @unchecked Sendable: `server` is read and written only while `lock` is held.
final class PendingReload: @unchecked Sendable {
    private let lock = NSLock()
    private var server: RankServer?

    /// Rescans the attached server's repositories, if there is a server yet.
    func reload() {
        let server = lock.withLock { self.server }
        server?.reloadModels()
    }

    /// Attaches the server.
    func attach(_ server: RankServer) { lock.withLock { self.server = server } }
}
