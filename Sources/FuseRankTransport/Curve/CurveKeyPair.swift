import CZeroMQ
import Foundation

/// A CURVE key pair in Z85 text (40 characters each), as `zmq_curve_keypair` makes them.
public struct CurveKeyPair: Sendable, Equatable {
    /// The public key: give it to the peers (a server's to its clients, a client's to the allowlist).
    public let publicKey: String
    /// The secret key: never leaves its owner.
    public let secretKey: String

    /// A fresh random key pair.
    /// - Throws: ``ZMQError`` (`ENOTSUP` when libzmq was built without CURVE).
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        try zmqCall("zmq_curve_keypair") { zmq_curve_keypair(&pub, &sec) }
        return CurveKeyPair(publicKey: CurveKey.text(pub), secretKey: CurveKey.text(sec))
    }

    /// The pair of a secret key, its public key derived (`zmq_curve_public`).
    /// - Parameter secretKey: Z85 text, 40 characters.
    /// - Throws: ``CurveKeyError/malformed(_:)`` when it is not a Z85 key.
    public init(secretKey: String) throws(CurveKeyError) {
        try CurveKey.check(secretKey)
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, secretKey) == 0 else {
            throw CurveKeyError.malformed("libzmq cannot derive a public key (errno \(zmq_errno()); built without CURVE?)")
        }
        self.publicKey = CurveKey.text(pub)
        self.secretKey = secretKey
    }

    private init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Whether this libzmq supports CURVE (`zmq_has("curve")`).
    public static var isSupported: Bool { zmq_has("curve") != 0 }
}

/// Z85 key text checks and the key files.
public enum CurveKey {
    /// The Z85 alphabet (ZeroMQ RFC 32).
    static let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

    /// The Swift string of a NUL-terminated Z85 buffer libzmq filled.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Checks that `text` is a 40-character Z85 key.
    /// - Throws: ``CurveKeyError/malformed(_:)`` saying what is wrong.
    public static func check(_ text: String) throws(CurveKeyError) {
        let bytes = Array(text.utf8)
        guard bytes.count == 40 else {
            throw CurveKeyError.malformed("a CURVE key is 40 Z85 characters, this one has \(bytes.count)")
        }
        if let bad = bytes.firstIndex(where: { !alphabet.contains($0) }) {
            throw CurveKeyError.malformed("character \(bad + 1) of the key is not Z85")
        }
        var decoded = [UInt8](repeating: 0, count: 32)
        guard zmq_z85_decode(&decoded, text) != nil else {
            throw CurveKeyError.malformed("the key does not decode as Z85")
        }
    }

    /// The key lines of a key file: blank lines and `#` comments dropped, each line trimmed.
    static func keyLines(_ path: String) throws(CurveKeyError) -> [(line: Int, key: String)] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CurveKeyError.cannotRead(path: path, reason: error.localizedDescription)
        }
        var result: [(Int, String)] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            result.append((index + 1, line))
        }
        return result
    }

    /// Reads a secret key file (`fuserank keygen` writes `PREFIX.key`): exactly one Z85 key line.
    /// - Returns: the key pair, its public key derived.
    /// - Throws: ``CurveKeyError`` naming the file and line.
    public static func readSecretKey(_ path: String) throws(CurveKeyError) -> CurveKeyPair {
        let lines = try keyLines(path)
        guard lines.count == 1 else {
            throw CurveKeyError.badFile(path: path, line: lines.dropFirst().first?.line ?? 0,
                                        reason: "a key file holds exactly one key, found \(lines.count)")
        }
        do {
            return try CurveKeyPair(secretKey: lines[0].key)
        } catch {
            throw CurveKeyError.badFile(path: path, line: lines[0].line, reason: error.description)
        }
    }

    /// Reads a public key file (`PREFIX.pub`): exactly one Z85 key line.
    /// - Throws: ``CurveKeyError`` naming the file and line.
    public static func readPublicKey(_ path: String) throws(CurveKeyError) -> String {
        let lines = try keyLines(path)
        guard lines.count == 1 else {
            throw CurveKeyError.badFile(path: path, line: lines.dropFirst().first?.line ?? 0,
                                        reason: "a key file holds exactly one key, found \(lines.count)")
        }
        do {
            try check(lines[0].key)
        } catch {
            throw CurveKeyError.badFile(path: path, line: lines[0].line, reason: error.description)
        }
        return lines[0].key
    }

    /// Reads an allowlist (`--curve-allow`): one Z85 public key per line, `#` comments, blank lines.
    /// - Returns: the keys; an empty file gives an empty set (which admits nobody).
    /// - Throws: ``CurveKeyError/badFile(path:line:reason:)`` for the first bad line.
    public static func readAllowlist(_ path: String) throws(CurveKeyError) -> Set<String> {
        var keys: Set<String> = []
        for (line, key) in try keyLines(path) {
            do {
                try check(key)
            } catch {
                throw CurveKeyError.badFile(path: path, line: line, reason: error.description)
            }
            keys.insert(key)
        }
        return keys
    }

    /// Writes `PREFIX.key` (the secret key, mode 0600) and `PREFIX.pub` (the public key).
    /// - Throws: ``CurveKeyError/cannotWrite(path:reason:)``; an existing file is not overwritten.
    public static func write(_ pair: CurveKeyPair, prefix: String) throws(CurveKeyError) {
        let files = [
            (prefix + ".key", "# FuseRank CURVE secret key: keep private\n\(pair.secretKey)\n", 0o600),
            (prefix + ".pub", "# FuseRank CURVE public key\n\(pair.publicKey)\n", 0o644),
        ]
        for (path, _, _) in files where FileManager.default.fileExists(atPath: path) {
            throw CurveKeyError.cannotWrite(path: path, reason: "the file exists; remove it first")
        }
        for (path, text, mode) in files {
            guard FileManager.default.createFile(
                atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode])
            else {
                throw CurveKeyError.cannotWrite(path: path, reason: "cannot create the file")
            }
        }
    }
}

/// A CURVE key or key file that cannot be used.
public enum CurveKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text is not a 40-character Z85 key.
    case malformed(String)
    /// A key file cannot be read.
    case cannotRead(path: String, reason: String)
    /// A key file has a bad line (1-based).
    case badFile(path: String, line: Int, reason: String)
    /// A key file cannot be written.
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .malformed(reason): reason
        case let .cannotRead(path, reason): "cannot read \(path): \(reason)"
        case let .badFile(path, line, reason): "\(path) line \(line): \(reason)"
        case let .cannotWrite(path, reason): "cannot write \(path): \(reason)"
        }
    }
}
