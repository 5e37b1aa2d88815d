import Foundation

/// Whether two paths name one existing file: the same device and inode, through any links.
/// False when either does not exist (or cannot be examined).
public func isSameFile(_ a: String, _ b: String) -> Bool {
    var sa = stat(), sb = stat()
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
}

/// The process's file-creation mask, read from `/proc/self/status` without changing it (calling
/// `umask` to read it would briefly change it for every thread); `0o022` where that is not there.
public func currentFileCreationMask() -> mode_t {
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
       let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
       let mask = mode_t(line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8) {
        return mask
    }
    return 0o022
}
