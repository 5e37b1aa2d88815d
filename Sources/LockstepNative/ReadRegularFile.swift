import Foundation

/// Reads the whole of the regular file at `path`, of at most `maxBytes` bytes.
///
/// A FIFO, a device such as `/dev/zero`, or a directory is refused without reading from it (a
/// FIFO is opened without waiting for a writer), so a wrong path cannot hang the caller or make
/// it allocate without bound.
/// - Returns: the file's bytes.
/// - Throws: `FileError`, whose message names the path and says why: the system's reason
///   it cannot be opened or read, "not a regular file", or its size against `maxBytes`.
public func readRegularFile(atPath path: String, maxBytes: Int) throws(FileError) -> [UInt8] {
    precondition(maxBytes >= 0, "readRegularFile: maxBytes must be ≥ 0")
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { throw FileError(path: path, String(cString: strerror(errno))) }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw FileError(path: path, String(cString: strerror(errno))) }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileError(path: path, "not a regular file") }
    guard st.st_size <= maxBytes else {
        throw FileError(path: path, "\(st.st_size) bytes, more than the \(maxBytes) this file may hold")
    }
    // Read to the end, not to the size fstat gave: the file may have changed since. The buffer
    // never grows past maxBytes + 1, and a full one of that size is refused before the next read,
    // so a file that ends has at most maxBytes bytes.
    var bytes = [UInt8](repeating: 0, count: Int(st.st_size) + 1)
    var count = 0
    while true {
        if count == bytes.count {
            guard bytes.count <= maxBytes else { throw FileError(path: path, "more than the \(maxBytes) bytes this file may hold") }
            bytes.append(contentsOf: repeatElement(0, count: min(max(bytes.count, 4096), maxBytes + 1 - bytes.count)))
        }
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
        if n < 0 && errno == EINTR { continue }
        guard n >= 0 else { throw FileError(path: path, String(cString: strerror(errno))) }
        if n == 0 { break }
        count += n
    }
    bytes.removeLast(bytes.count - count)
    return bytes
}
