import Foundation
import FuseRankWire
import Testing

/// The built `fuserank-server` executable: ready line, a real request, exit 0 on SIGTERM/SIGINT.
@Suite struct ServerBinaryTests {
    /// The executable next to the test bundle (`swift build` / `swift test` put both in one folder).
    static func binary() throws -> URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("fuserank-server")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            if folder.pathExtension == "xctest" || folder.lastPathComponent == "Contents" || folder.lastPathComponent == "MacOS" {
                folder.deleteLastPathComponent()
            } else {
                break
            }
        }
        throw PeerError(
            description: "fuserank-server not found next to \(CommandLine.arguments[0]); build it first with `swift build --product fuserank-server` using the same scratch path")
    }

    /// A running server process and the endpoint from its ready line.
    final class ServerProcess {
        let process = Process()
        let output = Pipe()
        var endpoint = ""

        init(arguments: [String]) throws {
            process.executableURL = try ServerBinaryTests.binary()
            process.arguments = arguments
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Read stdout until the ready line.
            var text = ""
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }  // EOF: the process exited
                text += String(decoding: chunk, as: UTF8.self)
                if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("fuserank-server: serving on ") }) {
                    endpoint = String(line.dropFirst("fuserank-server: serving on ".count))
                    return
                }
            }
            process.terminate()
            throw PeerError(description: "no ready line; stdout: \(text)")
        }

        /// Sends `signal` and waits for the exit status.
        func stop(_ signal: Int32) -> Int32 {
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
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func servesThenExitsZeroOnSignal(signal: Int32) throws {
        let server = try ServerProcess(arguments: [
            "--bind", "tcp://127.0.0.1:0", "--model", Fixtures.tiny, "--model", Fixtures.tinyNoImage, "--workers", "1",
        ])
        #expect(server.endpoint.hasPrefix("tcp://127.0.0.1:") && !server.endpoint.hasSuffix(":0"))
        let peer = try Peer(endpoint: server.endpoint)
        let health = try peer.call(.health, id: 1, body: [])
        #expect(try HealthReply(bytes: health.body) == HealthReply(
            ready: true, state: "serving", models: ["tiny", "tiny-noimage"],
            modelVersions: [ModelVersion(model: "tiny", version: "golden-1"), ModelVersion(model: "tiny-noimage", version: "golden-1")]))
        #expect(try peer.rank(RankRequest(topK: 4)).items.count == 4)
        #expect(server.stop(signal) == 0)
    }

    @Test func badArgumentsExitNonZero() throws {
        for arguments in [["--bind", "tcp://127.0.0.1:0"], ["--model", "/nonexistent/bundle"], ["--model", Fixtures.tiny, "--workers", "0"]] {
            let process = Process()
            process.executableURL = try Self.binary()
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus != 0, "\(arguments)")
        }
    }
}
