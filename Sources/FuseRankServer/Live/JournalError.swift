#if canImport(Glibc)
import Glibc
#endif

/// Why a catalogue journal cannot be read or written. Every case names the file.
enum JournalError: Error, Sendable, CustomStringConvertible {
    /// A record before the last one fails its CRC or does not decode: the file was damaged, not
    /// torn by a crash. The server refuses to start rather than lose or invent changes.
    case corrupt(file: String, offset: Int, reason: String)
    /// A system call failed.
    case io(file: String, operation: String, errno: Int32)
    /// The journal's folder cannot be created.
    case cannotCreate(folder: String, reason: String)

    var description: String {
        switch self {
        case let .corrupt(file, offset, reason):
            return "\(file): corrupt catalogue journal at byte \(offset): \(reason); "
                + "move the file away (its changes are then lost) or restore it from a backup"
        case let .io(file, operation, code):
            return "\(file): \(operation) failed: \(String(cString: strerror(code)))"
        case let .cannotCreate(folder, reason):
            return "\(folder): cannot create the catalogue journal's folder: \(reason)"
        }
    }
}
