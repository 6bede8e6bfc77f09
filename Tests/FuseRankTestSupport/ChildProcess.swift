import Foundation

/// One of the package's executables (`fuserank-server`, `fuserank-broker`, ...) run as a child
/// process, as an operator runs it; stdout is read until its ready line, stderr is dropped.
///
/// The executable is the one `swift build` / `swift test` put next to the test bundle.
public final class ChildProcess {
    public let process = Process()
    private let output = Pipe()
    /// What followed the ready prefix on the ready line (e.g. the bound endpoint).
    public private(set) var ready = ""

    /// Starts `name` and reads stdout until a line starts with `readyPrefix`.
    /// - Parameters:
    ///   - name: the executable's name.
    ///   - arguments: its command line.
    ///   - readyPrefix: how its ready line starts, e.g. `fuserank-server: serving on `.
    /// - Throws: ``ChildProcessError`` when the executable is missing or exits (or says nothing
    ///   for a minute) before its ready line; it is killed then.
    public init(_ name: String, arguments: [String], readyPrefix: String) throws {
        process.executableURL = try Self.executable(name)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }  // EOF: the process exited
            text += String(decoding: chunk, as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(readyPrefix) }) {
                ready = String(line.dropFirst(readyPrefix.count))
                return
            }
        }
        process.terminate()
        process.waitUntilExit()
        throw ChildProcessError(description: "\(name) printed no \"\(readyPrefix)\" line; stdout: \(text)")
    }

    /// Sends `signal` and waits for the exit status.
    public func stop(_ signal: Int32 = SIGTERM) -> Int32 {
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Runs `name` to its end, output dropped.
    /// - Returns: its exit status.
    public static func run(_ name: String, arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = try executable(name)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The executable `name` next to the test bundle (`swift build` and `swift test` put both in
    /// one folder; on macOS the bundle is a folder of its own).
    /// - Throws: ``ChildProcessError`` when it is not there.
    public static func executable(_ name: String) throws -> URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            if folder.pathExtension == "xctest" || folder.lastPathComponent == "Contents" || folder.lastPathComponent == "MacOS" {
                folder.deleteLastPathComponent()
            } else {
                break
            }
        }
        throw ChildProcessError(
            description: "\(name) not found next to \(CommandLine.arguments[0]); build it first with `swift build --product \(name)` using the same scratch path")
    }
}

/// A child process that cannot be started or never became ready.
public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
}
