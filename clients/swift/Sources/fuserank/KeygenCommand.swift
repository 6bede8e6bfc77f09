import ArgumentParser
import FuseRankTransport

/// `fuserank keygen --out PREFIX`: a new CURVE key pair in `PREFIX.key` and `PREFIX.pub`.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a new CURVE key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub (public).",
        discussion: """
            A server uses its PREFIX.key with --curve-secret-key and hands PREFIX.pub to its clients;
            a client's PREFIX.pub line goes into the server's --curve-allow file. Never overwrites a file.
            """)

    @Option(help: "Path prefix of the two files, e.g. keys/server.")
    var out: String

    func run() throws {
        do {
            let pair = try CurveKeyPair.generate()
            try CurveKey.write(pair, prefix: out)
            print("wrote \(out).key and \(out).pub; public key \(pair.publicKey)")
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
    }
}
