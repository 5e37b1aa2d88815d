import Foundation
import LockstepNative

/// Standard output and standard error for both command-line tools, written with `write(2)`.
///
/// Foundation's `FileHandle.write(_:)` stops the process (a trap, SIGILL) when a write fails —
/// standard output redirected to a file on a full disk, say. Here a failed write to standard
/// output is remembered instead, so that the tool ends with an error and a non-zero status rather
/// than a crash or a silently short output; a failed write to standard error is dropped, as there
/// is nowhere left to report it. A closed pipe still ends the process by SIGPIPE, as for any tool.
public enum StandardStreams {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var failure: String?   // only under `lock`

    /// Writes `text` to standard output at once (unbuffered); after a failed write, nothing more.
    public static func output(_ text: String) {
        lock.withLock {
            guard failure == nil else { return }
            failure = write(1, text)
        }
    }

    /// Writes `text` to standard error at once (unbuffered); a failure is ignored.
    public static func error(_ text: String) {
        _ = write(2, text)
    }

    /// Why standard output lost text (the system's reason, such as "No space left on device"), or
    /// nil when everything written to it went out.
    public static var outputFailure: String? { lock.withLock { failure } }

    /// Writes all of `text` to `fd` (`writeAll`); the reason on failure.
    private static func write(_ fd: Int32, _ text: String) -> String? {
        var text = text
        return text.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0))?.reason }
    }
}
