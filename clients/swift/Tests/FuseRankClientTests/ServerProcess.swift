import Foundation

/// The real `fuserank-server` binary, started on a free loopback port with a fixture model.
///
/// The binary is `$FUSERANK_SERVER` if set, else the one `swift build`/`swift test` put next to the
/// test bundle.
final class ServerProcess {
    let process = Process()
    /// The endpoint from the server's ready line, e.g. `tcp://127.0.0.1:41234`.
    let endpoint: String
    private let stdout = Pipe()

    /// The package root (four folders above this file).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Where the server binary is.
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["FUSERANK_SERVER"], !path.isEmpty {
            return URL(fileURLWithPath: path, relativeTo: packageRoot)
        }
        return Bundle.main.bundleURL.appendingPathComponent("fuserank-server")
    }

    /// Starts the server and waits (up to 30 s) for its ready line.
    /// - Parameters:
    ///   - model: A bundle folder relative to the package root.
    ///   - arguments: More command-line options.
    /// - Throws: `ServerProcessError` if the binary is missing or never says it is serving.
    init(model: String = "Tests/Fixtures/golden/tiny", arguments: [String] = []) throws {
        let binary = Self.binary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw ServerProcessError("no fuserank-server binary at \(binary.path); build it or set FUSERANK_SERVER")
        }
        process.executableURL = binary
        process.arguments = [
            "--bind", "tcp://127.0.0.1:0", "--model", Self.packageRoot.appendingPathComponent(model).path,
            "--workers", "1", "--log-level", "warning",
        ] + arguments
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()

        let marker = "serving on "
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while !text.contains("\n"), Date() < deadline, process.isRunning {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let line = text.split(separator: "\n").first(where: { $0.contains(marker) }),
            let range = line.range(of: marker)
        else {
            process.terminate()
            throw ServerProcessError("fuserank-server did not print its ready line; got: \(text)")
        }
        endpoint = String(line[range.upperBound...]).trimmingCharacters(in: .whitespaces)
    }

    /// Sends SIGTERM and waits for the exit status.
    /// - Returns: The exit status (0 = drained and stopped cleanly).
    func terminate() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

/// Why the server process could not be used.
struct ServerProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
