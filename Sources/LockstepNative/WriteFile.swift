import Foundation

/// Writes `bytes` to the file at `path`, creating it (with `mode` less the creation mask) or
/// truncating it, and closes it.
///
/// Made for output a user names: a regular file is written in place; a device (`/dev/null`, a
/// terminal) or a FIFO that a reader holds open (`/dev/stdout` into a pipe) is written to; a
/// FIFO with no reader is refused at once instead of waited on, and a directory is refused.
/// - Throws: `FileError` naming the path with the system's reason; a file this call created
///   and could not write whole is removed.
public func writeFile(atPath path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(FileError) {
    var before = stat()
    let existed = lstat(path, &before) == 0
    // O_NONBLOCK: opening a FIFO for writing with no reader fails (ENXIO) instead of waiting.
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC, mode)
    guard fd >= 0 else {
        let reason = errno == ENXIO ? "a FIFO with no reader" : String(cString: strerror(errno))
        throw FileError(path: path, "cannot write (\(reason))")
    }
    var failure: String?
    let flags = fcntl(fd, F_GETFL)
    if flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 {
        failure = String(cString: strerror(errno))
    } else if let short = bytes.withUnsafeBytes({ writeAll(fd, $0) }) {
        failure = "\(short.written) of \(bytes.count) bytes written: \(short.reason)"
    }
    if close(fd) != 0 && failure == nil { failure = String(cString: strerror(errno)) }
    if let failure {
        if !existed { unlink(path) }
        throw FileError(path: path, "cannot write (\(failure))")
    }
}
