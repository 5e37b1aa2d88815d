import Foundation

/// Writes all of `bytes` to the open file descriptor `fd` with `write(2)`, retrying interrupted
/// and partial writes.
/// - Returns: nil once every byte is written; else how many were written and why the rest were
///   not (the system's reason, such as "No space left on device").
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> (written: Int, reason: String)? {
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return (done, n < 0 ? String(cString: strerror(errno)) : "nothing written") }
        done += n
    }
    return nil
}
