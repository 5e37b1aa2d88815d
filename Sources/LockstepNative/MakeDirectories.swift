import Foundation

/// Creates the directory at `path` and any missing parents (as `mkdir -p`); nothing to do when
/// it exists.
/// - Throws: `FileError` naming the path with the system's reason ("Not a directory", …).
public func makeDirectories(atPath path: String) throws(FileError) {
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        // Foundation's error does not always carry the system's reason; mkdir(2) on the same path
        // meets the same obstacle and says which.
        let reason = mkdir(path, 0o755) != 0 ? String(cString: strerror(errno)) : error.localizedDescription
        throw FileError(path: path, "cannot create the directory (\(reason))")
    }
}
