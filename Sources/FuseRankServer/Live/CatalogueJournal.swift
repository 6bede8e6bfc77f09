#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A model's append-only journal of live catalogue changes (docs/operations.md): an 8-byte magic
/// `FRCJRNL1`, then records `[payload length u32 LE][CRC-32 of the payload u32 LE][payload]`
/// (``JournalRecord/payload()``). Each append is written and `fsync`'d before it returns.
///
/// Reading: a last record cut short or failing its CRC (a crash mid-write) is dropped and the file
/// truncated to the records before it; damage before the last record is ``JournalError/corrupt``.
/// Used by the loader thread only.
final class CatalogueJournal {
    static let magic = Array("FRCJRNL1".utf8)

    let path: String
    /// The records, oldest first.
    private(set) var records: [JournalRecord]
    /// Bytes dropped from a torn tail when the file was opened (0 when none).
    let tornBytes: Int
    private var fd: Int32

    /// Opens (or creates, with its folder) the journal and reads every record.
    /// - Throws: ``JournalError``.
    init(path: String) throws {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw JournalError.cannotCreate(folder: folder, reason: error.localizedDescription)
        }
        let existing = FileManager.default.contents(atPath: path).map { [UInt8]($0) }
        let decoded = try Self.decode(existing ?? [], path: path)
        records = decoded.records
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JournalError.io(file: path, operation: "open", errno: errno) }
        tornBytes = (existing?.count ?? 0) - decoded.goodLength
        if existing == nil || decoded.goodLength < Self.magic.count {
            try rewriteInPlace(Self.magic)
            try Self.syncFolder(folder)
        } else if tornBytes > 0 {
            guard ftruncate(fd, off_t(decoded.goodLength)) == 0 else { throw JournalError.io(file: path, operation: "ftruncate", errno: errno) }
            try sync()
        }
        guard lseek(fd, 0, SEEK_END) >= 0 else { throw JournalError.io(file: path, operation: "lseek", errno: errno) }
    }

    deinit { close(fd) }

    /// The records of a journal file's bytes, and the length of the good prefix.
    /// - Throws: ``JournalError/corrupt(file:offset:reason:)`` for damage before the last record.
    static func decode(_ bytes: [UInt8], path: String) throws -> (records: [JournalRecord], goodLength: Int) {
        guard bytes.count >= magic.count else { return ([], 0) }  // torn while being created
        guard Array(bytes[0..<magic.count]) == magic else {
            throw JournalError.corrupt(file: path, offset: 0, reason: "not a catalogue journal (no FRCJRNL1 magic)")
        }
        var records: [JournalRecord] = []
        var offset = magic.count
        while offset < bytes.count {
            guard offset + 8 <= bytes.count else { break }  // torn header
            let length = Int(readU32(bytes, offset)), crc = readU32(bytes, offset + 4)
            let end = offset + 8 + length
            guard end <= bytes.count else { break }  // torn payload
            let payload = Array(bytes[(offset + 8)..<end])
            guard CRC32.checksum(payload) == crc else {
                if end == bytes.count { break }  // the last record, half written
                throw JournalError.corrupt(file: path, offset: offset, reason: "record CRC mismatch")
            }
            guard let record = JournalRecord(payload: payload) else {
                throw JournalError.corrupt(file: path, offset: offset, reason: "a record that does not decode")
            }
            records.append(record)
            offset = end
        }
        return (records, offset)
    }

    /// The bytes of one record on file.
    static func frame(_ record: JournalRecord) -> [UInt8] {
        let payload = record.payload()
        return u32(UInt32(payload.count)) + u32(CRC32.checksum(payload)) + payload
    }

    /// Appends a record and makes it durable (`fsync`).
    /// - Returns: its sequence number (1-based position in the journal).
    /// - Throws: ``JournalError``; the file is then cut back to the records before it.
    @discardableResult
    func append(_ record: JournalRecord) throws -> UInt64 {
        let start = lseek(fd, 0, SEEK_END)
        do {
            try writeAll(Self.frame(record))
            try sync()
        } catch {
            _ = ftruncate(fd, start)
            throw error
        }
        records.append(record)
        return UInt64(records.count)
    }

    /// Replaces the journal with `records` atomically (a new file, `fsync`, `rename`, folder `fsync`).
    /// - Throws: ``JournalError``.
    func rewrite(_ records: [JournalRecord]) throws {
        let tmp = path + ".tmp"
        let out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw JournalError.io(file: tmp, operation: "open", errno: errno) }
        let bytes = Self.magic + records.flatMap(Self.frame)
        let written = bytes.withUnsafeBytes { write(out, $0.baseAddress, $0.count) }
        let synced = fsync(out)
        close(out)
        guard written == bytes.count, synced == 0 else { throw JournalError.io(file: tmp, operation: "write", errno: errno) }
        guard rename(tmp, path) == 0 else { throw JournalError.io(file: path, operation: "rename", errno: errno) }
        try Self.syncFolder((path as NSString).deletingLastPathComponent)
        close(fd)
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError.io(file: path, operation: "open", errno: errno) }
        self.records = records
    }

    private func rewriteInPlace(_ bytes: [UInt8]) throws {
        guard ftruncate(fd, 0) == 0 else { throw JournalError.io(file: path, operation: "ftruncate", errno: errno) }
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw JournalError.io(file: path, operation: "lseek", errno: errno) }
        try writeAll(bytes)
        try sync()
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw JournalError.io(file: path, operation: "write", errno: errno)
            }
            done += n
        }
    }

    private func sync() throws {
        guard fsync(fd) == 0 else { throw JournalError.io(file: path, operation: "fsync", errno: errno) }
    }

    private static func syncFolder(_ folder: String) throws {
        let dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw JournalError.io(file: folder, operation: "open", errno: errno) }
        defer { close(dir) }
        guard fsync(dir) == 0 else { throw JournalError.io(file: folder, operation: "fsync", errno: errno) }
    }

    private static func readU32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }

    private static func u32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
}
