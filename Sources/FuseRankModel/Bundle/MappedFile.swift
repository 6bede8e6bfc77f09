#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file memory-mapped read-only; unmapped when the last reference goes.
///
/// The pages stay backed by the file: replace a bundle's files atomically (write a new file, then
/// rename it over the old one). Truncating or rewriting a mapped file in place makes later reads of
/// the map fault (SIGBUS), as with any memory-mapped loader.
///
/// `@unchecked Sendable`: the mapping is `PROT_READ` and never written or remapped after `init`,
/// so any number of threads may read it; `deinit` runs only once no reference remains.
final class MappedFile: @unchecked Sendable {
    /// The file path (for error messages).
    let path: String
    /// The first byte of the mapping.
    let base: UnsafeRawPointer
    /// The file length in bytes (> 0).
    let count: Int

    /// Maps `path` read-only.
    /// - Throws: ``BundleError/cannotRead(file:reason:)``, ``BundleError/truncated(file:size:needed:)``
    ///   for an empty file, ``BundleError/cannotMap(file:reason:)``.
    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BundleError.cannotRead(file: path, reason: Self.errnoMessage()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw BundleError.cannotRead(file: path, reason: Self.errnoMessage()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw BundleError.cannotRead(file: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else { throw BundleError.truncated(file: path, size: 0, needed: 8) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw BundleError.cannotMap(file: path, reason: Self.errnoMessage())
        }
        base = UnsafeRawPointer(p)
        count = size
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), count)
    }

    private static func errnoMessage() -> String {
        String(cString: strerror(errno))
    }
}
