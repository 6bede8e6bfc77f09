#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// What a version folder looks like on disk: each file's name, size, inode and change time, and
/// the folder's own. Any write, rename, or replacement of a file changes it.
///
/// The repository remembers the fingerprint of a version that failed to load and does not retry
/// it until the fingerprint changes; it also reads a version's fingerprint before and after
/// loading it, and discards a load during which the folder changed (it was still being written).
struct VersionFingerprint: Hashable, Sendable {
    private let entries: [Entry]

    private struct Entry: Hashable, Sendable {
        let name: String
        let size: Int64
        let inode: UInt64
        let changedNs: Int64
        let modifiedNs: Int64
    }

    /// Reads the fingerprint of `folder`; nil when the folder cannot be listed (it is gone).
    init?(folder: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
        var entries: [Entry] = []
        guard let own = Self.entry(name: ".", path: folder) else { return nil }
        entries.append(own)
        for name in names.sorted() {
            // A file that vanishes between the listing and stat(2) is a change, read next time.
            if let e = Self.entry(name: name, path: folder + "/" + name) { entries.append(e) }
        }
        self.entries = entries
    }

    private static func entry(name: String, path: String) -> Entry? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        #if canImport(Darwin)
        let ctime = Int64(st.st_ctimespec.tv_sec) * 1_000_000_000 + Int64(st.st_ctimespec.tv_nsec)
        let mtime = Int64(st.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(st.st_mtimespec.tv_nsec)
        #else
        let ctime = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
        let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        #endif
        return Entry(name: name, size: Int64(st.st_size), inode: UInt64(st.st_ino), changedNs: ctime, modifiedNs: mtime)
    }
}
