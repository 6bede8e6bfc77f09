import Foundation
import FuseRankRedis

/// A real `redis-server` for a test: its own port and folder, AOF with `appendfsync always` (the
/// settings docs/deploy.md asks for), killed when the object goes.
// @unchecked Sendable: `running` is replaced only by `restart()`, which a test calls from one thread.
public final class RedisProcess: @unchecked Sendable {
    public private(set) var port: Int
    public let folder: URL
    private var running: Process?

    /// Starts `redis-server` (`$FUSERANK_REDIS_SERVER` or `/usr/bin/redis-server`) on a free port
    /// and waits until it answers PING.
    /// - Throws: when it does not answer within 20 s (after 5 tries on other ports).
    public init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        port = 0
        var lastError = ""
        for _ in 0..<5 {  // a port free here can be taken before redis binds it: try another
            do {
                try launch(port: Self.freePort())
                return
            } catch {
                lastError = "\(error)"
            }
        }
        throw RedisProcessError(description: lastError)
    }

    /// `redis://127.0.0.1:<port>/<prefix>`.
    public func address(prefix: String = "test") -> String { "redis://127.0.0.1:\(port)/\(prefix)" }

    /// A new connection to this server.
    public func connect() throws -> RedisConnection { try RedisConnection(host: "127.0.0.1", port: port, timeoutMs: 2000) }

    /// Kills the server now (SIGKILL), as a crash would; its AOF stays.
    public func kill() {
        guard let running else { return }
        if running.isRunning { Foundation.kill(running.processIdentifier, SIGKILL) }
        running.waitUntilExit()
        self.running = nil
    }

    /// Starts the server again on the same port and folder (it reloads its AOF).
    public func restart() throws {
        kill()
        try launch(port: port)
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: folder)
    }

    private func launch(port: Int) throws {
        let binary = ProcessInfo.processInfo.environment["FUSERANK_REDIS_SERVER"] ?? "/usr/bin/redis-server"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--dir", folder.path, "--save", "",
                             "--appendonly", "yes", "--appendfsync", "always", "--logfile", "redis.log"]
        try process.run()
        let deadline = ContinuousClock.now + .seconds(20)
        while process.isRunning && ContinuousClock.now < deadline {
            if let redis = try? RedisConnection(host: "127.0.0.1", port: port, timeoutMs: 200),
               (try? redis.command(["PING"]))?.text == "PONG" {
                self.port = port
                running = process
                return
            }
            Thread.sleep(forTimeInterval: 0.01)  // polling a process's readiness, not a synchronisation
        }
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let log = (try? String(contentsOf: folder.appendingPathComponent("redis.log"), encoding: .utf8)) ?? "no log"
        throw RedisProcessError(description: "redis-server on port \(port) did not answer: \(log.suffix(400))")
    }

    /// A TCP port free now on 127.0.0.1.
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// Why a test's redis-server did not start.
public struct RedisProcessError: Error, CustomStringConvertible {
    public let description: String
}
